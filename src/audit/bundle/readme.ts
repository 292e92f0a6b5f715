// README.md of a bundle: addressed to an examiner who has the bundle and the public
// specifications, not Assay. Every byte format it describes is checked by verify.py and by
// `assay audit verify --bundle`.

import { MEMBER, type BundleManifest } from './format.js';

function windowSentence(manifest: Omit<BundleManifest, 'files'>): string {
  const { entries } = manifest.window;
  const others = manifest.span.end - manifest.span.start - entries;
  if (others === 0) return `all ${entries} leaves were recorded in that window.`;
  return `${entries} leaves were recorded in that window; the other ${others} were recorded outside it but committed among them (\`manifest.json\` \`window.outside\` lists their index ranges).`;
}

/** The bundle's README.md for `manifest` (its `files` digests are not needed). */
export function bundleReadme(manifest: Omit<BundleManifest, 'files'>): string {
  const { origin, span, checkpoint, window } = manifest;
  const last = span.end - 1;
  const windowText = `${window.from ?? 'the beginning of the log'} (inclusive) to ${window.to ?? 'the time of export'} (exclusive)`;
  const earliest = manifest.earliestCheckpoint
    ? `\`${MEMBER.earliestCheckpoint}\` and \`${MEMBER.consistencyProof}\` | the earliest signed checkpoint that covers the span (size ${manifest.earliestCheckpoint.size}) and the RFC 9162 consistency proof from it to the anchor`
    : undefined;
  return `# Assay audit log bundle

This bundle holds entries **${span.start} to ${last}** (${span.end - span.start} leaves) of the Assay audit log
\`${origin}\`, exported ${manifest.createdAt} by ${manifest.generator}. It was asked for the entries
recorded from ${windowText}: ${windowSentence(manifest)}
${window.unsequenced > 0 ? `${window.unsequenced} entries recorded in the window had no log index yet at export time and are not included.\n` : ''}
Everything in it can be checked with public specifications and no access to Assay:

- the log is an RFC 9162 Merkle tree (https://www.rfc-editor.org/rfc/rfc9162#section-2.1):
  leaf hash = SHA-256(0x00 ‖ leaf bytes), interior node = SHA-256(0x01 ‖ left ‖ right);
- its tree heads are C2SP checkpoints (https://c2sp.org/tlog-checkpoint) signed as C2SP signed
  notes with Ed25519 (https://c2sp.org/signed-note);
- a leaf is the RFC 8785 canonical JSON of one audit entry, including its position \`index\`.

## What a successful check proves, and what it does not

It proves that the leaves in \`${MEMBER.leaves}\` are, byte for byte, the leaves at positions
${span.start}…${last} of the log whose root hash at size ${checkpoint.size} the key in
\`${MEMBER.publicKey}\` signed in \`${MEMBER.checkpoint}\`: none was changed, dropped, reordered or added.

It does **not** prove:

- **that the key is the log's**: the bundle brings its own key. Obtain the key independently (from
  the operator, or \`GET /api/v1/audit/public-key\` on their server; if the log's key was rotated
  since, \`GET /api/v1/audit/public-keys\` lists the retired keys too) and compare it with
  \`${MEMBER.publicKey}\` (the check below takes it as \`--public-key\`);
- **that no other entry was recorded in the time window**: the log orders entries by commit, and the
  time an entry carries is the server's clock. The bundle proves the contiguous positions
  ${span.start}…${last}; for completeness over all time, ask for an export from the first entry.

## Files

| file | content |
|---|---|
| \`${MEMBER.readme}\` | this text |
| \`${MEMBER.manifest}\` | format \`${manifest.format}\`, origin, span, window, anchor size and root, and the SHA-256 and size of every other file |
| \`${MEMBER.script}\` | steps 1 to 6 below as a Python 3 program using only the standard library |
| \`${MEMBER.publicKey}\` | the log's note verifier key \`name+hexkeyid+base64(0x01 ‖ 32-byte Ed25519 public key)\` |
| \`${MEMBER.checkpoint}\` | the anchor: the newest signed checkpoint at export time (size ${checkpoint.size}) |
| \`${MEMBER.rangeProof}\` | hashes of the subtrees left (\`left\`, covering [0, ${span.start})) and right (\`right\`, covering [${span.end}, ${checkpoint.size})) of the span, each with its leaf range |
| \`${MEMBER.leaves}\` | one leaf per line, leaf ${span.start} first: the exact leaf bytes (canonical JSON, which never contains a newline) followed by one \`\\n\` (0x0A) |
| \`${MEMBER.inclusionProofs}\` | one line per leaf: \`{"index": i, "proof": [base64 hash, …]}\`, the RFC 9162 inclusion proof of leaf i in the tree of size ${checkpoint.size} |
${earliest ? `| ${earliest} |\n` : ''}
## Check it with Assay

    assay audit verify --bundle THIS_FILE --public-key 'KEY_YOU_OBTAINED_INDEPENDENTLY'

No server, database or configuration is needed. It names the first bad leaf index and the kind
of damage (changed, missing, reordered, forged, bad_checkpoint, wrong_key, bad_proof, malformed).

## Check it by hand

Extract it (\`tar -xf FILE\`; add \`-z\` for a \`.tar.gz\`): the files are in one folder. Then
\`python3 ${MEMBER.script} FOLDER --public-key 'KEY'\` performs steps 1 to 6 with the Python standard
library; read it first, it is short. It checks the Ed25519 signatures with PyNaCl or the
\`cryptography\` package when installed, otherwise by running OpenSSL 3 (\`openssl\` on the PATH).
It ends \`PASS\` (exit status 0) only when every check, signatures included, passed here; \`FAIL\`
(1) names what failed; \`INCOMPLETE\` (2) means it found no way to check a signature: run the
\`openssl\` command it printed, and only "Signature Verified Successfully" completes the check.
Done by hand:

1. **Digests.** For each file listed in \`manifest.json\` \`files\`, its SHA-256 (\`sha256sum FILE\`)
   equals \`sha256\`. This catches damage in transit; it is not a signature (the manifest is not
   signed: the checks below are what an alteration cannot pass).
2. **Key.** \`${MEMBER.publicKey}\` is \`NAME+KEYID+KEY\`. Base64-decode KEY: 33 bytes, the first is
   0x01 (Ed25519), the other 32 are the public key. KEYID must be the first 4 bytes of
   SHA-256(NAME ‖ 0x0A ‖ 0x01 ‖ public key), in lowercase hex. NAME is the log origin \`${origin}\`.
3. **Checkpoint signature.** \`${MEMBER.checkpoint}\` is a signed note: the text, a blank line, then
   signature lines \`— NAME BASE64\` (an em dash U+2014 and a space first). The signed bytes are the
   file's bytes from the start up to and including the newline just before the blank line. Take
   the signature line with NAME; base64-decode its second field: the first 4 bytes must equal KEYID,
   the remaining 64 bytes are the Ed25519 signature of the signed bytes. Check it with OpenSSL 3:

       # public-key.der = the 12 bytes 30 2a 30 05 06 03 2b 65 70 03 21 00 followed by the 32-byte key
       openssl pkeyutl -verify -pubin -keyform DER -inkey public-key.der -rawin -in signed.bin -sigfile sig.bin

   or with PyNaCl: \`nacl.signing.VerifyKey(public_key).verify(signed_bytes, signature)\`.
   (\`${MEMBER.script}\` writes these three files to \`signature-check/\` when neither PyNaCl nor
   \`cryptography\` is installed, and runs that command itself.)
   The signed text has three lines: the origin \`${origin}\`, the tree size (${checkpoint.size}) and the
   base64 root hash (\`${checkpoint.rootHash}\`).
4. **Leaves against the root.** For leaf line k (k = 0, 1, …) of \`${MEMBER.leaves}\`, the leaf bytes
   are the line without its final 0x0A; they parse as a JSON object whose \`index\` is ${span.start} + k.
   Its leaf hash is SHA-256(0x00 ‖ leaf bytes). The subtrees of \`${MEMBER.rangeProof}\` \`left\`, then
   the leaf hashes in order, then the subtrees of \`right\` tile [0, ${checkpoint.size}) from left to
   right; each is a node of the RFC 9162 tree (they are the siblings on the inclusion paths of the
   first and the last leaf: complete subtrees, except that the last may be the tree's right edge).
   The root is then MTH(D[0:${checkpoint.size}]) of RFC 9162 §2.1.1, where every range listed (and
   every single leaf) stands for its given hash:
   for a range [a, b) not listed, with k the largest power of two smaller than b − a, its hash is
   SHA-256(0x01 ‖ hash of [a, a + k) ‖ hash of [a + k, b)). It must equal the checkpoint's root hash.
   (\`${MEMBER.script}\` computes the same in one pass: it pushes the nodes on a stack and merges
   two of equal width, like carrying in binary addition, then folds the stack from the right.)
5. **Inclusion proofs.** Each line of \`${MEMBER.inclusionProofs}\` verifies by RFC 9162 §2.1.3.2 with
   leaf_index = \`index\`, tree_size = ${checkpoint.size}, hash = that leaf's hash, the base64-decoded
   \`proof\` as inclusion_path and the checkpoint's root hash. Any single entry can be shown this way
   without the other leaves.
${manifest.earliestCheckpoint ? `6. **Consistency.** \`${MEMBER.earliestCheckpoint}\` verifies as in step 3; its size (${manifest.earliestCheckpoint.size}) is at least ${span.end}, and \`${MEMBER.consistencyProof}\` verifies by RFC 9162 §2.1.4.2 from it to the anchor: the log as it was then is a prefix of the log the anchor signs.\n` : '6. **Consistency.** Not included: either the anchor is itself the earliest checkpoint covering the span, or the bundle was exported through the server, which publishes only its newest checkpoint.\n'}
The leaves are JSON objects with \`id\`, \`recordedAt\` (UTC), \`actor\`, \`action\`, \`resource\`,
\`decision\`, \`outcome\`, optional \`reason\` and \`requestId\`, \`payloadRefs\` (SHA-256 references
to documents kept apart) and \`index\`. For example, with jq: \`jq -c 'select(.action == "model.approve")' ${MEMBER.leaves}\`.
`;
}
