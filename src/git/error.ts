// The error of every git operation, in a module of its own: commands that only catch it need not load simple-git.
import type { CategorizedError } from '../core/types.js';

export class GitError extends Error implements CategorizedError {
  readonly category = 'git' as const;
  constructor(
    message: string,
    readonly hint: string,
    /** git's exit status, when git ran. */
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'GitError';
  }
}
