/**
 * The TypeScript client of the recserve API.
 *
 * Every type comes from `schema.d.ts`, which openapi-typescript generates from the API's
 * OpenAPI document (`npm run generate`); requests go through openapi-fetch, so paths,
 * query options and bodies are checked against that document at compile time.
 * `RecserveClient` wraps the common calls and turns error answers into `RecserveError`
 * carrying the API's stable error code; `client.api` reaches every other endpoint, typed.
 *
 *     const client = new RecserveClient({ baseUrl: "http://127.0.0.1:8000", apiKey: "..." });
 *     await client.sendFeedback([{ user_id: "u1", item_id: "i1", type: "like" }]);
 *     const list = await client.recommend("u1", { n: 5 });
 */

import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";

type Schemas = components["schemas"];
export type ErrorBody = Schemas["ErrorBody"];
/** One feedback event; the feedback route states its body inline, so it has no component. */
export type FeedbackCreate = JsonBodyOf<"/v1/feedback">[number];
export type ItemCreate = Schemas["ItemCreate"];
export type ItemPublic = Schemas["ItemPublic"];
export type UserCreate = Schemas["UserCreate"];
export type ListItem = Schemas["ListItem"];
export type ListResponse = Schemas["ListResponse"];
export type WriteResult = Schemas["WriteResult"];
export type TrainRequest = Schemas["TrainRequest"];
export type JobStatus = Schemas["JobStatus"];
export type ScenarioList = Schemas["ScenarioList"];
export type SearchResponse = Schemas["SearchResponse"];

/** The JSON body of a POST endpoint, as the OpenAPI document states it. */
type JsonBodyOf<P extends keyof paths> = paths[P] extends {
  post: { requestBody?: { content: { "application/json": infer B } } };
}
  ? B
  : never;

/** The query options of a GET endpoint, as the OpenAPI document states them. */
type QueryOf<P extends keyof paths> = paths[P] extends {
  get: { parameters: { query?: infer Q } };
}
  ? NonNullable<Q>
  : never;

/** `n`, `offset`, `exclude_seen`, `category`, `filter`, `include`, `exclude`, `diversity`,
 * `pin`, `explain` (docs/scenarios.md). */
export type RecommendOptions = QueryOf<"/v1/users/{user_id}/recommendations">;
export type SimilarOptions = QueryOf<"/v1/items/{item_id}/similar">;
/** The list options plus `user_id`, whose seen items are left out. */
export type PopularOptions = QueryOf<"/v1/popular">;
/** `n`, `mode` (hybrid, words, meaning), `category`, `filter`, `user_id`. */
export type SearchOptions = Omit<QueryOf<"/v1/search">, "q">;

export interface RecserveClientOptions {
  /** e.g. "http://127.0.0.1:8000" */
  baseUrl: string;
  /** Sent as `X-API-Key`; needed when the service has API keys configured. */
  apiKey?: string;
  /** Extra headers for every request. */
  headers?: Record<string, string>;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: (input: Request) => Promise<Response>;
}

/** An error answer of the API: `code` is the stable code of its JSON body
 * (`validation_error`, `item_not_found`, `missing_api_key`, `model_not_ready` ...). */
export class RecserveError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ErrorBody["details"];
  /** The `X-Request-ID` to quote when reporting a problem. */
  readonly requestId: string | null;
  /** Seconds, from `Retry-After` (429 and 503 answers). */
  readonly retryAfter: number | null;

  constructor(status: number, body: ErrorBody, headers: Headers) {
    super(`${status} ${body.code}: ${body.message}`);
    this.name = "RecserveError";
    this.status = status;
    this.code = body.code;
    this.details = body.details ?? null;
    this.requestId = headers.get("x-request-id");
    const retryAfter = Number(headers.get("retry-after") ?? Number.NaN);
    this.retryAfter = Number.isFinite(retryAfter) ? retryAfter : null;
  }

  /** The error of an answer; a body that is not the API's JSON (a proxy's page) keeps its
   * text as the message, with the code `http_<status>`. */
  static fromResponse(response: Response, error: unknown): RecserveError {
    const body: ErrorBody = isErrorBody(error)
      ? error
      : { code: `http_${response.status}`, message: String(error ?? response.statusText) };
    return new RecserveError(response.status, body, response.headers);
  }
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ErrorBody).code === "string" &&
    typeof (value as ErrorBody).message === "string"
  );
}

/** The data of a successful answer, or the answer's `RecserveError`. */
async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || data === undefined) {
    throw RecserveError.fromResponse(response, error);
  }
  return data;
}

export class RecserveClient {
  /** The typed openapi-fetch client, for every endpoint this class does not wrap. */
  readonly api: Client<paths>;

  constructor(options: RecserveClientOptions) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.apiKey !== undefined) headers["X-API-Key"] = options.apiKey;
    this.api = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ""),
      headers,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  /** Items for a user (`GET /v1/users/{user_id}/recommendations`). */
  recommend(userId: string, options: RecommendOptions = {}): Promise<ListResponse> {
    return unwrap(
      this.api.GET("/v1/users/{user_id}/recommendations", {
        params: { path: { user_id: userId }, query: options },
      }),
    );
  }

  /** Items like an item (`GET /v1/items/{item_id}/similar`). */
  similar(itemId: string, options: SimilarOptions = {}): Promise<ListResponse> {
    return unwrap(
      this.api.GET("/v1/items/{item_id}/similar", {
        params: { path: { item_id: itemId }, query: options },
      }),
    );
  }

  /** The most popular items (`GET /v1/popular`). */
  popular(options: PopularOptions = {}): Promise<ListResponse> {
    return unwrap(this.api.GET("/v1/popular", { params: { query: options } }));
  }

  /** Items for a text, by their words and their meaning (`GET /v1/search`). */
  search(q: string, options: SearchOptions = {}): Promise<SearchResponse> {
    return unwrap(this.api.GET("/v1/search", { params: { query: { q, ...options } } }));
  }

  /** Store feedback events (`POST /v1/feedback`); events with a stored `event_id` are
   * skipped and counted in `duplicates`, so a failed batch can be sent again as is. */
  sendFeedback(events: FeedbackCreate[]): Promise<WriteResult> {
    return unwrap(this.api.POST("/v1/feedback", { body: events }));
  }

  /** Create or replace items (`POST /v1/items`). */
  upsertItems(items: ItemCreate[]): Promise<WriteResult> {
    return unwrap(this.api.POST("/v1/items", { body: items }));
  }

  /** Create or replace users (`POST /v1/users`). */
  upsertUsers(users: UserCreate[]): Promise<WriteResult> {
    return unwrap(this.api.POST("/v1/users", { body: users }));
  }

  /** One item (`GET /v1/items/{item_id}`). */
  getItem(itemId: string): Promise<ItemPublic> {
    return unwrap(this.api.GET("/v1/items/{item_id}", { params: { path: { item_id: itemId } } }));
  }

  /** Start a training job (`POST /v1/models/train`, admin scope). */
  train(request: TrainRequest = {}): Promise<JobStatus> {
    return unwrap(this.api.POST("/v1/models/train", { body: request }));
  }

  /** A training job's status and progress (`GET /v1/jobs/{job_id}`). */
  job(jobId: string): Promise<JobStatus> {
    return unwrap(this.api.GET("/v1/jobs/{job_id}", { params: { path: { job_id: jobId } } }));
  }

  /** Each scenario's champion and the model this replica serves (`GET /v1/scenarios`). */
  scenarios(): Promise<ScenarioList> {
    return unwrap(this.api.GET("/v1/scenarios"));
  }
}
