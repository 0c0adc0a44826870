import { CacheSageError, type CacheSageErrorOptions } from '../core/errors.js';

/** A trace or agents file that violates trace format v1 (code WORKLOAD_INVALID, never retriable). */
export class WorkloadError extends CacheSageError {
  constructor(message: string, options: Omit<CacheSageErrorOptions, 'retriable'> = {}) {
    super('WORKLOAD_INVALID', message, { ...options, retriable: false });
  }
}
