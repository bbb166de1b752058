// Kubernetes `Status` objects (meta/v1) for error answers, shaped as the real apiserver sends them so that
// client code reading `body.reason` / `body.code` behaves as it would against a cluster.
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { type?: string; message: string; field?: string }[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** Thrown inside handlers; the server turns it into a Status answer. */
export class ApiError extends Error {
  readonly status: StatusBody;
  readonly headers: Record<string, string>;
  constructor(status: StatusBody, headers: Record<string, string> = {}) {
    super(status.message);
    this.status = status;
    this.headers = headers;
  }
}

const REASON_BY_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function reasonFor(code: number): string {
  return REASON_BY_CODE[code] ?? 'Unknown';
}

export function status(
  code: number,
  message: string,
  reason = reasonFor(code),
  details?: StatusBody['details'],
): StatusBody {
  const body: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
  if (details) body.details = details;
  return body;
}

export function notFound(resource: string, name: string, group = ''): ApiError {
  const gr = group ? `${resource}.${group}` : resource;
  return new ApiError(
    status(404, `${gr} "${name}" not found`, 'NotFound', {
      name,
      ...(group ? { group } : {}),
      kind: resource,
    }),
  );
}

export function conflict(resource: string, name: string, group = ''): ApiError {
  const gr = group ? `${resource}.${group}` : resource;
  return new ApiError(
    status(
      409,
      `Operation cannot be fulfilled on ${gr} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      'Conflict',
      { name, ...(group ? { group } : {}), kind: resource },
    ),
  );
}

export function alreadyExists(resource: string, name: string, group = ''): ApiError {
  const gr = group ? `${resource}.${group}` : resource;
  return new ApiError(
    status(409, `${gr} "${name}" already exists`, 'AlreadyExists', {
      name,
      ...(group ? { group } : {}),
      kind: resource,
    }),
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(status(400, message, 'BadRequest'));
}

/** What the apiserver answers when a JSON patch cannot be applied (e.g. a failed `test` operation). */
export function patchApplyFailed(message: string): ApiError {
  return new ApiError(
    status(422, 'the server rejected our request due to an error in our request', 'Invalid', {
      causes: [{ type: 'UnexpectedServerResponse', message }],
    }),
  );
}

export function expired(message: string): StatusBody {
  return status(410, message, 'Expired');
}
