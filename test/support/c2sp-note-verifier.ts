import { createHash, createPublicKey, verify } from 'node:crypto';

/**
 * An independent C2SP signed-note / tlog-checkpoint verifier written from the specs, sharing
 * no code with src/audit, so the live API is checked the way an outside auditor would.
 */
export interface VerifiedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
}

/** Verifies `note` with the verifier key `vkey` and returns the checkpoint it signs; throws on any mismatch. */
export function verifyCheckpointNote(note: string, vkey: string): VerifiedCheckpoint {
  const [name, hexId, keyB64, ...rest] = vkey.trim().split('+');
  // Only the first two '+' separate fields: base64 may itself contain '+'.
  if (!name || !hexId || keyB64 === undefined) throw new Error('bad vkey');
  const keyBytes = Buffer.from([keyB64, ...rest].join('+'), 'base64');
  if (keyBytes[0] !== 0x01 || keyBytes.length !== 33) throw new Error('vkey is not Ed25519');
  const pub = keyBytes.subarray(1);
  const id = createHash('sha256').update(Buffer.concat([Buffer.from(name + '\n'), Buffer.from([0x01]), pub])).digest().subarray(0, 4);
  if (id.toString('hex') !== hexId) throw new Error('vkey id mismatch');

  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new Error('no blank line');
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2).split('\n').filter((l) => l.length > 0);
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
  const ok = sigLines.some((line) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== name) return false;
    const sig = Buffer.from(m[2]!, 'base64');
    return sig.subarray(0, 4).equals(id) && verify(null, Buffer.from(text), key, sig.subarray(4));
  });
  if (!ok) throw new Error('no valid signature from the log key');
  const [origin, size, root, ...ext] = text.slice(0, -1).split('\n');
  if (!origin || !size || !root || ext.some((e) => e === '')) throw new Error('bad checkpoint body');
  return { origin, size: Number(size), root: Buffer.from(root, 'base64') };
}
