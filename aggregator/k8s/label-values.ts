// Kubernetes label values are at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.
// Informative values (driver, CUDA, JetPack, containerd versions) come from hosts, so they are sanitised
// here or omitted; a raw host string is never written as a label value.
const VALID = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
export const MAX_LABEL_VALUE_LENGTH = 63;

export function isValidLabelValue(value: string): boolean {
  return value.length <= MAX_LABEL_VALUE_LENGTH && VALID.test(value);
}

/**
 * A valid label value for `raw`, or undefined when none can honestly be made. Runs of invalid characters
 * become one `_`, the ends are trimmed to alphanumerics. A value longer than 63 characters is omitted
 * rather than truncated: a cut-off version string would state something false.
 */
export function sanitizeLabelValue(raw: string | null | undefined): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  const replaced = raw
    .trim()
    .replace(/[^-A-Za-z0-9_.]+/g, '_')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  if (replaced === '' || !isValidLabelValue(replaced)) return undefined;
  return replaced;
}
