// --no-auth: every request is accepted for any node. Only for a lab; it warns at start and on each report.
import type { AuthOutcome } from '../contracts.js';
import type { Identification, StagedAuthenticator } from './staged.js';

export interface WarnLogger {
  warn(obj: object, msg: string): void;
}

export class NoAuthenticator implements StagedAuthenticator {
  private readonly log: WarnLogger;

  constructor(log: WarnLogger) {
    this.log = log;
    log.warn({ auth: 'none' }, 'authentication is DISABLED (--no-auth): any client can report for any node');
  }

  describe(): string {
    return 'none (--no-auth)';
  }

  async identify(_token: string | undefined): Promise<Identification> {
    return {
      ok: true,
      principal: {
        identity: 'anonymous',
        authorize: (node) => {
          this.log.warn({ auth: 'none', node }, 'accepting an unauthenticated report (--no-auth)');
          return { ok: true, identity: 'anonymous' };
        },
      },
    };
  }

  async authenticate(token: string | undefined, node: string): Promise<AuthOutcome> {
    const id = await this.identify(token);
    return id.ok ? id.principal.authorize(node) : id;
  }
}
