/**
 * The official Talon.One JS SDK (talon_one 4.3.0) as a terminal. Its generated .d.ts disagrees with its own
 * JavaScript (optional arguments typed as required, `authentications` typed as string[]), so this file gives
 * the few members the tests use their real shapes.
 */
import TalonOne from 'talon_one';

export interface SdkResponse<T = unknown> {
  data: T;
  response: { status: number; body: T; headers: Record<string, string> };
}

export interface SdkClient {
  basePath: string;
  timeout: number;
  authentications: Record<string, { apiKey?: string; apiKeyPrefix?: string }>;
  callApi(...args: unknown[]): Promise<SdkResponse>;
}

// The SDK returns loosely typed model objects; tests read them as JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Model = any;

export interface SdkIntegrationApi {
  updateCustomerSessionV2(id: string, body: unknown, opts?: { dry?: boolean }): Promise<Model>;
  updateCustomerProfileV2(id: string, body: unknown, opts?: { runRuleEngine?: boolean; dry?: boolean }): Promise<Model>;
  getCustomerInventory(id: string, opts?: Record<string, boolean>): Promise<Model>;
}

interface Sdk {
  ApiClient: new () => SdkClient;
  IntegrationApi: new (client: SdkClient) => SdkIntegrationApi;
  IntegrationRequest: { constructFromObject(o: unknown): unknown };
  CustomerProfileIntegrationRequestV2: { constructFromObject(o: unknown): unknown };
}

export const Talon = TalonOne as unknown as Sdk;

/** An SDK client aimed at `baseUrl` with a terminal token (the SDK sends `Authorization: ApiKey-v1 <token>`). */
export function sdkClient(baseUrl: string, token: string): { client: SdkClient; api: SdkIntegrationApi } {
  const client = new Talon.ApiClient();
  client.basePath = baseUrl;
  client.timeout = 5000;
  const auth = client.authentications.api_key_v1;
  if (!auth) throw new Error('talon_one SDK has no api_key_v1 authentication');
  auth.apiKey = token;
  auth.apiKeyPrefix = 'ApiKey-v1';
  return { client, api: new Talon.IntegrationApi(client) };
}

/** Routes SDK 4.3.0 has no wrapper for (returns, reopen, events v2, balances) go through its own ApiClient. */
export function sdkCall<T = Model>(client: SdkClient, method: string, path: string, body: unknown, query: Record<string, unknown> = {}): Promise<SdkResponse<T>> {
  return client.callApi(path, method, {}, query, {}, {}, body ?? null, ['api_key_v1'], ['application/json'], ['application/json'], Object, null) as Promise<
    SdkResponse<T>
  >;
}
