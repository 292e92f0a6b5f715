import { describe, expect, it } from 'vitest';
import { isStorageFull } from '../../src/core/index.js';

const errno = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

describe('isStorageFull: the disk, not the request, is at fault', () => {
  it('knows a full filesystem, a full quota, PostgreSQL disk_full and DuckDB failing to write', () => {
    expect(isStorageFull(errno('ENOSPC', 'ENOSPC: no space left on device, write'))).toBe(true);
    expect(isStorageFull(errno('EDQUOT', 'EDQUOT: disk quota exceeded, write'))).toBe(true);
    // node-postgres puts the SQLSTATE in `code`.
    expect(isStorageFull(errno('53100', 'could not extend file "base/16384/16385": No space left on device'))).toBe(true);
    expect(isStorageFull(new Error('IO Error: Could not write file "/home/tmp/duckdb_temp_storage-0.tmp": No space left on device'))).toBe(true);
  });

  it('looks through causes, and nowhere else', () => {
    expect(isStorageFull(new Error('adopting the snapshot failed', { cause: errno('ENOSPC', 'no space') }))).toBe(true);
    expect(isStorageFull(errno('EACCES', 'EACCES: permission denied'))).toBe(false);
    expect(isStorageFull(errno('23505', 'duplicate key value violates unique constraint'))).toBe(false);
    expect(isStorageFull(new Error('Out of Memory Error: could not allocate block of size 256.0 KiB'))).toBe(false);
    expect(isStorageFull('ENOSPC')).toBe(false);
    expect(isStorageFull(undefined)).toBe(false);
  });
});
