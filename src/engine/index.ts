/** Public surface of the local evaluation engine. */
export { LocalData, type LocalDataLimits, type LocalDataStatus, type CampaignStatus, type DataKind } from './local-data.js';
export { Engine, DEFAULT_BUDGET, type EngineData, type EvaluateInput, type EvaluateOutput } from './evaluate.js';
export { CouponLedger, type LedgerOp, type LedgerEntry, type LedgerExport } from './coupon-ledger.js';
export { LoyaltyLimits, type LoyaltyOp, type LoyaltyExport } from './loyalty.js';
export { currency, toMinor, fromMinor, prorate, type Currency } from './money.js';
export { SUPPORTED_BLOCKS } from './blocks.js';
export { SUPPORTED_OPERATORS } from './check-attribute.js';
export { TALANG_FUNCTIONS } from './talang.js';
export { SELECTOR_STEPS } from './selectors.js';
export type { Effect, CartItem, SessionInput, ProfileInput, SessionState, CatalogItem, CatalogPayload } from './types.js';
export type { Explanation, CampaignExplanation, RuleExplanation, RuleFailureReason } from './explain.js';
export { FALLBACK_PREFIX, type FallbackReason, type FallbackRules } from './fallback.js';
