/**
 * Data model of the local evaluation engine: the Talon.One shapes it reads (README "Local data") and the
 * shapes it returns. Payloads are validated by `ingest/*` before they are typed as these.
 */

// ---------- inputs of an evaluation ----------

/** A cart item as a terminal sends it (Talon.One `CartItem`, request fields). */
export interface CartItem {
  sku: string;
  quantity: number;
  price?: number;
  name?: string;
  category?: string;
  weight?: number;
  height?: number;
  width?: number;
  length?: number;
  product?: { name: string };
  attributes?: Record<string, unknown>;
  additionalCosts?: Record<string, { price: number }>;
}

export type SessionState = 'open' | 'closed' | 'cancelled' | 'partially_returned';

/** The customer session being evaluated: the full merged state (the caller merges PUT updates). */
export interface SessionInput {
  profileId?: string;
  couponCodes?: string[];
  loyaltyCards?: string[];
  cartItems?: CartItem[];
  attributes?: Record<string, unknown>;
  additionalCosts?: Record<string, { price: number }>;
  state?: SessionState;
  identifiers?: string[];
}

/** Cached customer profile (attributes and audiences seen by the gateway). */
export interface ProfileInput {
  integrationId: string;
  attributes?: Record<string, unknown>;
  audienceMemberships?: { id: number; name?: string }[];
}

// ---------- effects ----------

/** Talon.One's effect envelope (`Effect`). Money props are numbers in currency units. */
export interface Effect {
  campaignId: number;
  rulesetId: number;
  ruleIndex: number;
  ruleName: string;
  effectType: string;
  props: Record<string, unknown>;
  triggeredByCoupon?: number;
  evaluationGroupID?: number;
  evaluationGroupMode?: string;
  selectedPriceType?: string;
  selectedPrice?: number;
  adjustmentReferenceId?: string;
}

// ---------- data sets (src/engine/README.md, "Data sets") ----------

export interface ApplicationSettings {
  currency?: string;
  timezone?: string;
  caseSensitivity?: 'sensitive' | 'insensitive-uppercase' | 'insensitive-lowercase';
  defaultDiscountScope?: 'sessionTotal' | 'cartItems' | 'additionalCosts';
  enableCascadingDiscounts?: boolean;
  enablePartialDiscounts?: boolean;
  attributes?: Record<string, unknown>;
}

export interface Campaign {
  id: number;
  name: string;
  state: string;
  startTime?: string | null;
  endTime?: string | null;
  linkedStoreIds?: number[] | null;
  features?: string[];
  limits?: unknown[];
  activeRulesetId?: number;
}

export interface Block {
  id: string;
  type: string;
  [k: string]: unknown;
}

export interface RuleV2 {
  id?: string;
  title: string;
  blocks: Block[];
}

export interface SelectorDef {
  name: string;
  type: 'selector';
  source: string;
  steps: { type: string; [k: string]: unknown }[];
}

export interface RulesetV2 {
  id: number;
  campaignId?: number;
  promotionRules: RuleV2[];
  strikethroughRules?: RuleV2[];
  selectors?: SelectorDef[];
  bundles?: unknown[];
  parameters?: unknown[];
}

export interface CampaignSetNode {
  type: 'SET' | 'CAMPAIGN';
  campaignId?: number;
  name?: string;
  operator?: 'ALL' | 'FIRST';
  elements?: CampaignSetNode[];
  groupId?: number;
  evaluationMode?: 'stackable' | 'listOrder' | 'lowestDiscount' | 'highestDiscount';
  evaluationScope?: 'cartItem' | 'session';
}

export interface CampaignSet {
  id?: number;
  version?: number;
  set: CampaignSetNode;
}

export interface StoreRecord {
  id: number;
  integrationId: string;
  name?: string;
  attributes?: Record<string, unknown>;
}

/** Application cart item filter (storegate shape: name + its active Talang expression). */
export interface CartItemFilterDef {
  name: string;
  expression: unknown[];
}

export interface RulesPayload {
  version: number;
  application: ApplicationSettings;
  evaluationTree: CampaignSet | null;
  campaigns: { campaign: Campaign; ruleset: RulesetV2 }[];
  stores?: StoreRecord[];
  cartItemFilters?: CartItemFilterDef[];
  /** This store's shares of campaign-wide budgets, set by head office (storegate addition; src/engine/budgets.ts). */
  budgets?: { readAt: number; shares: { campaignId: number; action: string; period?: string; share: number }[] };
}

export interface Coupon {
  id: number;
  value: string;
  campaignId: number;
  usageLimit?: number;
  usageCounter?: number;
  startDate?: string | null;
  expiryDate?: string | null;
  recipientIntegrationId?: string | null;
  attributes?: Record<string, unknown>;
  discountLimit?: number;
}

export interface CouponsPayload {
  version: number;
  full: boolean;
  coupons: Coupon[];
}

export interface LoyaltyProgram {
  id: number;
  name?: string;
  title?: string;
  cardBased?: boolean;
  [k: string]: unknown;
}

export interface LoyaltyBalance {
  programId: number;
  profileId?: string;
  cardId?: string;
  /** A subledger of the program (Talon.One's `subLedgerId`; export column `loyaltySubledger`); absent: the main ledger. */
  subledgerId?: string;
  activePoints: number;
  pendingPoints?: number;
}

export interface LoyaltyPayload {
  version: number;
  programs: LoyaltyProgram[];
  balances: LoyaltyBalance[];
}

export interface StrikethroughEffect {
  campaignId: number;
  rulesetId: number;
  ruleIndex: number;
  ruleName: string;
  type: string;
  props: { name?: string; value?: number; [k: string]: unknown };
  startTime?: string;
  endTime?: string;
  selectedPriceType?: string;
  selectedPrice?: number;
  adjustmentReferenceId?: string;
  targets?: { type: string; audience?: { id: number } }[];
}

export interface StrikethroughChangedItem {
  id?: number;
  catalogId?: number;
  sku: string;
  version: number;
  price: number;
  prices?: Record<string, { price: number; effectiveFrom?: string; effectiveUntil?: string; adjustmentEffectiveFrom?: string; adjustmentEffectiveUntil?: string; adjustmentReferenceId?: string }>;
  evaluatedAt?: string;
  effects?: StrikethroughEffect[];
}

export interface StrikethroughNotification {
  NotificationType?: string;
  applicationId?: number;
  currentBatch: number;
  totalBatches?: number;
  trigger: { id: number; type?: string; [k: string]: unknown };
  changedItems: StrikethroughChangedItem[];
  sentAt?: string;
}

/** Talon.One `ItemAttribute` (Management API): an attribute of a catalog item. */
export interface ItemAttribute {
  attributeid: number;
  name: string;
  value: unknown;
}

/**
 * Talon.One `CatalogItem` (Management API `GET /v1/catalogs/{catalogId}/items`). `deleted: true` (storegate's, in
 * a delta push only) removes the SKU.
 */
export interface CatalogItem {
  id?: number;
  created?: string;
  sku: string;
  price?: number | null;
  catalogid: number;
  version: number;
  attributes?: ItemAttribute[];
  product?: { name?: string };
  deleted?: boolean;
}

/** The catalog data set: `full: false` is a delta (items replace older versions of their SKU, or remove it). */
export interface CatalogPayload {
  version: number;
  full: boolean;
  items: CatalogItem[];
}

/**
 * A Talon.One collection (Management API `Collection`): `payload` is its content, the list of strings
 * `GET /v1/collections/{collectionId}/items` pages through; `campaignId` is set for a campaign-level one.
 * `deleted: true` (storegate's, in a delta push only) removes it.
 */
export interface CollectionData {
  id: number;
  name: string;
  campaignId?: number | null;
  applicationId?: number;
  description?: string;
  modified?: string;
  payload?: string[];
  deleted?: boolean;
}

/** The collections data set: `full: false` is a delta (each collection listed replaces the held one whole, or removes it). */
export interface CollectionsPayload {
  version: number;
  full: boolean;
  collections: CollectionData[];
}

export type DataKind = 'rules' | 'prices' | 'coupons' | 'loyalty' | 'catalog' | 'collections';
