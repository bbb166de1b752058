// In-process capture of the check command's stdout/stderr.
import type { CheckIo } from '../../agent/check-command.js';

export interface Captured extends CheckIo {
  out: () => string;
  err: () => string;
}

export function captureIo(env: NodeJS.ProcessEnv = {}, isTTY = false): Captured {
  let out = '';
  let err = '';
  return {
    stdout: {
      isTTY,
      write: (s: string) => {
        out += s;
        return true;
      },
    },
    stderr: {
      write: (s: string) => {
        err += s;
        return true;
      },
    },
    env,
    out: () => out,
    err: () => err,
  };
}
