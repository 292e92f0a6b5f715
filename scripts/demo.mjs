// `npm run demo`: the product's main job on the embedded default, end to end, with the real
// modules. So far: initialise a fresh home, start the server, check readiness and
// authentication, create the people and services of the factory (each with its built-in role),
// show a role refused, verify the audit log's signed checkpoint and an inclusion proof
// client-side as the auditor, place a legal hold as the compliance officer, ingest German credit
// into quarantine (checks, profile) and have a steward certify it (signed manifest, lineage),
// derive a feature table from it (inputs, code hash and parameters signed into its manifest),
// merge a Spark job's OpenLineage event reading that table into the graph, file an erasure
// request that finds one applicant in it and in what the Spark job wrote, let the credit app ask before acting under bounded autonomy (a risk officer approves what it may not do alone),
// read the metrics, export an audit bundle and verify it offline, download the certified
// Parquet and check it, the raw file and the manifest against the bundle, stop cleanly and verify the
// whole log on the database.
// Later lifecycle stages add their steps here.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const assay = join(root, 'bin', 'assay.js');
const home = mkdtempSync(join(tmpdir(), 'assay-demo-'));
const keep = process.argv.includes('--keep');
let server;

const LOG_LEVELS = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A line of the server's log as the demo prints it: its level and message; a line that is not pino JSON as it came. */
function serverLogLine(line) {
  try {
    const entry = JSON.parse(line);
    if (typeof entry.msg === 'string') return `  [server log, ${LOG_LEVELS[entry.level] ?? entry.level}] ${entry.msg}`;
  } catch {
    // Not JSON: printed whole below.
  }
  return `  [server] ${line}`;
}

function step(text) {
  process.stdout.write(`\n▶ ${text}\n`);
}
function fail(message) {
  process.stderr.write(`demo failed: ${message}\n`);
  process.exitCode = 1;
}
function cli(...args) {
  return cliAs(undefined, ...args);
}
function cliAs(token, ...args) {
  const env = { ...process.env, ...(token ? { ASSAY_TOKEN: token } : {}) };
  const r = spawnSync(process.execPath, [assay, '--home', home, ...args], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`assay ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}
async function waitFor(predicate, what, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const value = await predicate();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
async function get(url, token) {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, body: await res.json() };
}

try {
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    step('building (dist/ missing)');
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('build failed');
  }

  step(`assay init   (ASSAY_HOME=${home})`);
  const init = JSON.parse(cli('init', '--json'));
  console.log(`  created admin ${init.adminPrincipalId}; signing key ${init.signingKeyId.slice(0, 16)}…; token in ${init.adminTokenFile}`);
  const again = JSON.parse(cli('init', '--json'));
  if (again.created) throw new Error('a second init created another administrator');
  console.log('  second init is a no-op (idempotent)');
  const token = readFileSync(init.adminTokenFile, 'utf8').trim();

  step('assay server --port 0');
  server = spawn(process.execPath, [assay, '--home', home, 'server', '--port', '0'], {
    env: { ...process.env, ASSAY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The server logs JSON lines (pino): shown as the rest of the demo reads, and never hidden.
  for (const stream of [server.stdout, server.stderr]) createInterface({ input: stream }).on('line', (line) => console.log(serverLogLine(line)));
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  const info = await waitFor(() => {
    try {
      return JSON.parse(readFileSync(join(home, 'server.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }, 'server.json');
  console.log(`  listening on ${info.url} (pid ${info.pid}, ${info.database})`);

  step('GET /readyz');
  const ready = await waitFor(async () => {
    const r = await get(`${info.url}/readyz`).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  }, '/readyz 200');
  console.log(`  ${ready.status} ${JSON.stringify(ready.body.checks)}`);

  step('GET /api/v1/whoami without, then with, the admin token');
  const anon = await get(`${info.url}/api/v1/whoami`);
  if (anon.status !== 401) throw new Error(`expected 401 without a token, got ${anon.status}`);
  console.log(`  no token → ${anon.status} ${anon.body.title}: ${anon.body.detail}`);
  const me = await get(`${info.url}/api/v1/whoami`, token);
  if (me.status !== 200) throw new Error(`expected 200 with the admin token, got ${me.status}`);
  console.log(`  admin token → ${me.status} ${me.body.name} ${JSON.stringify(me.body.roles)}`);

  step('principals: the people and services of the factory, each with a built-in role');
  const people = {};
  for (const [name, role, kind] of [
    ['steward', 'data-steward', 'human'],
    ['scientist', 'data-scientist', 'human'],
    ['validator', 'model-validator', 'human'],
    ['risk-officer', 'risk-officer', 'human'],
    ['auditor', 'auditor', 'human'],
    ['compliance', 'compliance-officer', 'human'],
    ['credit-app', 'app-client', 'service'],
  ]) {
    people[name] = JSON.parse(cli('principal', 'create', name, '--role', role, '--kind', kind, '--json'));
    console.log(`  ${name.padEnd(13)} ${role.padEnd(19)} ${people[name].id}`);
  }
  const refused = await get(`${info.url}/api/v1/audit/entries?limit=1`, people.scientist.token);
  if (refused.status !== 403) throw new Error(`expected 403 for the scientist on the audit log, got ${refused.status}`);
  console.log(`  scientist → audit log: ${refused.status} ${refused.body.detail} (the refusal itself is audited)`);

  step('audit evidence: signed checkpoint and inclusion proof, checked on this side by the auditor');
  // The real verification code (dist/audit), run here as an outside auditor would.
  const audit = await import(new URL('../dist/audit/index.js', import.meta.url).href);
  const auditorAuth = { authorization: `Bearer ${people.auditor.token}` };
  const text = async (path) => (await fetch(`${info.url}${path}`, { headers: auditorAuth })).text();
  const note = await waitFor(async () => {
    const res = await fetch(`${info.url}/api/v1/audit/checkpoint`, { headers: auditorAuth });
    return res.status === 200 ? res.text() : undefined;
  }, 'first checkpoint');
  const vkey = (await text('/api/v1/audit/public-key')).trim();
  const cp = audit.openCheckpoint(note, audit.parseVerifierKey(vkey));
  console.log(`  checkpoint ${cp.origin} size ${cp.size} root ${cp.rootHash.toString('base64').slice(0, 16)}… signature verified (${vkey.split('+')[0]})`);
  const last = cp.size - 1;
  const { leaves } = JSON.parse(await text(`/api/v1/audit/leaves?start=${last}&end=${cp.size}`));
  const leaf = Buffer.from(leaves[0], 'base64');
  const { proof } = JSON.parse(await text(`/api/v1/audit/proof/inclusion?index=${last}&size=${cp.size}`));
  const included = audit.verifyInclusion({
    index: last,
    size: cp.size,
    leafHash: audit.leafHash(leaf),
    proof: proof.map((p) => Buffer.from(p, 'base64')),
    root: cp.rootHash,
  });
  if (!included) throw new Error(`leaf ${last} is not included in the signed checkpoint`);
  console.log(`  leaf ${last} (${JSON.parse(leaf).action}) is included: ${proof.length}-hash proof verified`);

  step('legal hold: the compliance officer preserves evidence for a case');
  const hold = JSON.parse(
    cliAs(people.compliance.token, 'audit', 'hold', 'place', '--case', 'CASE-2026-001', '--reason', 'supervisory review of credit decisions', '--class', 'inference', '--json'),
  );
  console.log(`  hold ${hold.id ?? hold.hold?.id} on case CASE-2026-001: inference payloads cannot be erased or purged while it stands`);
  const purge = JSON.parse(cliAs(people.compliance.token, 'audit', 'purge', '--dry-run', '--json'));
  console.log(`  retention purge (dry run): ${purge.purged.length} payloads past their maximum, ${purge.held.length} kept by a hold`);

  step('governed data: the scientist ingests German credit into quarantine; checks and profile run');
  const creditCsv = join(root, 'examples', 'data', 'german_credit.csv');
  const ingested = JSON.parse(
    cliAs(
      people.scientist.token,
      '--json', 'dataset', 'ingest', creditCsv,
      '--name', 'german-credit', '--source-system', 'loan-origination', '--classification', 'confidential',
      '--owner', people.steward.id, '--purpose', 'credit scoring', '--residency', 'EU',
    ),
  );
  console.log(`  ${ingested.datasetName} v${ingested.version} (${ingested.state}): ${ingested.rowCount} rows, snapshot sha256:${ingested.snapshot.sha256.slice(0, 16)}…`);
  const shown = JSON.parse(cliAs(people.steward.token, '--json', 'dataset', 'show', 'german-credit', '--version', String(ingested.version)));
  const checks = shown.checks ?? shown.version?.checks ?? [];
  console.log(`  checks: ${checks.map((c) => `${c.check ?? c.name}=${c.status}`).join(' ')}`);

  step('promotion: the steward (not the ingester) certifies it; the signed manifest verifies; lineage raw → certified');
  const selfPromote = await fetch(`${info.url}/api/v1/datasets/german-credit/versions/${ingested.version}/promote`, {
    method: 'POST',
    headers: { authorization: `Bearer ${people.scientist.token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  console.log(`  scientist promoting its own ingest → ${selfPromote.status} (separation of duties)`);
  const promoted = JSON.parse(cliAs(people.steward.token, '--json', 'dataset', 'promote', 'german-credit', String(ingested.version)));
  const cert = promoted.version.certified;
  console.log(`  certified by the steward: ${cert.rows} rows as Parquet sha256:${cert.parquetSha256.slice(0, 16)}…, manifest sha256:${cert.manifestSha256.slice(0, 16)}…`);
  const core = await import(new URL('../dist/core/index.js', import.meta.url).href);
  const data = await import(new URL('../dist/data/index.js', import.meta.url).href);
  const logKey = audit.parseVerifierKey((await text('/api/v1/audit/public-key')).trim()).publicKey;
  // Kept as served, byte for byte (assay dataset manifest): the examiner checks this file against the audit log below.
  const manifestFile = join(home, 'german-credit.manifest.json');
  cliAs(people.steward.token, 'dataset', 'manifest', 'german-credit', '--version', String(ingested.version), '--out', manifestFile);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  const statement = data.verifyDatasetManifest(manifest, (keyid) => (keyid === core.keyIdForPublicKey(logKey) ? logKey : undefined));
  console.log(`  manifest: DSSE signature verified with the published key; ${statement.predicate.checks.length} checks, exclusions ${JSON.stringify(statement.predicate.exclusions)}`);
  const graph = await (await fetch(`${info.url}/api/v1/lineage/graph?node=${ingested.id}&depth=3&direction=up`, { headers: { authorization: `Bearer ${people.validator.token}` } })).json();
  for (const e of graph.edges) console.log(`  lineage: ${e.from.slice(0, 20)}… —${e.type}→ ${e.to}`);
  if (!graph.edges.some((e) => e.type === 'promoted' && e.to === ingested.id)) throw new Error('no lineage edge raw snapshot → certified version');

  step('derived data: the scientist builds a feature table from certified German credit (this script is the code); the steward certifies it');
  // The features: three numeric columns and a ratio, computed here from the shipped CSV.
  const [creditHeader, ...creditRows] = readFileSync(creditCsv, 'utf8').trimEnd().split('\n');
  const featureColumns = ['duration_months', 'credit_amount', 'age_years'];
  const at = featureColumns.map((c) => creditHeader.split(',').indexOf(c));
  const featureCsv = join(home, 'credit_features.csv');
  // Each row keeps the applicant it describes (German credit's row number), declared as the
  // subject id so an erasure request can find this table later.
  const applicantId = (row) => `APP-${String(row + 1).padStart(4, '0')}`;
  const featureRows = creditRows.map((r, row) => {
    const [duration, amount, age] = at.map((i) => Number(r.split(',')[i]));
    return `${applicantId(row)},${duration},${amount},${age},${(amount / duration).toFixed(2)}`;
  });
  writeFileSync(featureCsv, [`applicant_id,${featureColumns.join(',')},amount_per_month`, ...featureRows].join('\n') + '\n');
  const derived = JSON.parse(
    cliAs(
      people.scientist.token,
      '--json', 'dataset', 'ingest', featureCsv,
      '--name', 'credit-features', '--source-system', 'feature-engineering', '--classification', 'confidential',
      '--owner', people.steward.id, '--purpose', 'credit scoring', '--subject-id-column', 'applicant_id',
      '--derived-from', `german-credit@${ingested.version}`, '--code', fileURLToPath(import.meta.url),
      '--param', `columns=${JSON.stringify(featureColumns)}`, '--param', 'ratio=credit_amount/duration_months', '--param', 'decimals=2',
    ),
  );
  const d = derived.derivation;
  console.log(`  ${derived.datasetName} v${derived.version} (${derived.state}): ${derived.rowCount} rows from ${d.inputs.map((i) => `${i.dataset}@${i.version}`).join(', ')} by ${d.code.name} sha256:${d.code.sha256.slice(0, 16)}…, parameters ${JSON.stringify(d.parameters)}`);
  const refusedDerive = await fetch(`${info.url}/api/v1/datasets/credit-features-public/versions?sourceSystem=x&classification=public&owner=${people.steward.id}&derivedFrom=german-credit@${ingested.version}&codeSha256=${d.code.sha256}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${people.scientist.token}`, 'content-type': 'text/csv' },
    body: readFileSync(featureCsv),
  });
  console.log(`  the same features as a public dataset → ${refusedDerive.status}: ${(await refusedDerive.json()).errors?.map((e) => `${e.field} ${e.detail}`).join('; ')}`);
  const derivedPromoted = JSON.parse(cliAs(people.steward.token, '--json', 'dataset', 'promote', 'credit-features', String(derived.version)));
  const derivedStatement = data.verifyDatasetManifest(derivedPromoted.manifest, (keyid) => (keyid === core.keyIdForPublicKey(logKey) ? logKey : undefined));
  const signedInputs = derivedStatement.predicate.derivation.inputs.map((i) => `${i.dataset}@${i.version} parquet sha256:${i.parquetSha256.slice(0, 16)}…`);
  console.log(`  certified by the steward; the signed manifest records the derivation: ${signedInputs.join(', ')}, code sha256:${derivedStatement.predicate.derivation.code.sha256.slice(0, 16)}…`);
  const upstream = await (await fetch(`${info.url}/api/v1/lineage/graph?node=${derived.id}&depth=5&direction=up`, { headers: { authorization: `Bearer ${people.validator.token}` } })).json();
  const label = new Map(upstream.nodes.map((n) => [n.id, `${n.type} ${n.name ?? n.id}`]));
  for (const e of upstream.edges) console.log(`  lineage: ${label.get(e.from)} —${e.type}→ ${label.get(e.to)}`);
  if (!upstream.edges.some((e) => e.type === 'input' && e.from === ingested.id)) throw new Error('no lineage edge German credit → derivation run');

  step('OpenLineage in: a Spark job outside Assay reads the certified feature table into the risk lake (writing it is refused)');
  // As Spark's OpenLineage listener reports it: the input is named as Assay's own events name the
  // certified dataset (namespace lineage.namespace, default "assay"), so it joins Assay's graph.
  const sparkEvent = (run) =>
    fetch(`${info.url}/api/v1/lineage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${people.steward.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        eventType: 'COMPLETE',
        eventTime: new Date().toISOString(),
        producer: 'https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/spark',
        schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
        run: { runId: run.runId },
        job: { namespace: 'spark://risk-cluster', name: run.job },
        inputs: [run.input],
        outputs: [run.output],
      }),
    });
  const sparkRun = await sparkEvent({
    runId: '0193a0c4-7d2e-7c1a-9f3b-5e8d2a6b4c10',
    job: 'score_applicants',
    input: { namespace: 'assay', name: 'credit-features' },
    output: { namespace: 's3://risk-lake', name: 'scoring/applicant_scores' },
  });
  if (sparkRun.status !== 201) throw new Error(`OpenLineage event refused: ${sparkRun.status} ${await sparkRun.text()}`);
  const downstream = await (await fetch(`${info.url}/api/v1/lineage/graph?node=${derived.id}&depth=4&direction=down`, { headers: { authorization: `Bearer ${people.validator.token}` } })).json();
  const downLabel = new Map(downstream.nodes.map((n) => [n.id, `${n.type} ${n.namespace ? `${n.namespace} ` : ''}${n.name ?? n.id}`]));
  for (const e of downstream.edges) console.log(`  lineage: ${downLabel.get(e.from)} —${e.type}→ ${downLabel.get(e.to)}`);
  if (!downstream.nodes.some((n) => n.namespace === 's3://risk-lake')) throw new Error('the Spark job\'s output is not downstream of the certified feature table');
  // Reading a certified dataset is what outside jobs do; writing it is its promotion's alone.
  const sparkOverwrite = await sparkEvent({
    runId: '0193a0c4-7d2e-7c1a-9f3b-5e8d2a6b4c11',
    job: 'backfill_features',
    input: { namespace: 's3://risk-lake', name: 'staging/features' },
    output: { namespace: 'assay', name: 'credit-features' },
  });
  const overwriteProblem = await sparkOverwrite.json();
  if (sparkOverwrite.status !== 403) throw new Error(`an outside job writing the certified feature table was not refused: ${sparkOverwrite.status}`);
  console.log(`  an outside job claiming to write it: ${sparkOverwrite.status} ${overwriteProblem.errors[0].field}: ${overwriteProblem.errors[0].detail}`);

  step('erasure request (GDPR Art. 17): the compliance officer asks where one applicant\'s data went');
  const erasure = JSON.parse(cliAs(people.compliance.token, '--json', 'data', 'erasure-request', '--subject-id', applicantId(41), '--reason', 'data subject request DSR-2026-0042 under Art. 17'));
  const reached = erasure.datasetVersions.map((v) => `${v.dataset}@${v.version} (${v.state})`).join(', ');
  const outside = erasure.externalDatasets.map((x) => `${x.namespace} ${x.name}`).join(', ');
  console.log(`  ${erasure.id}: the subject is in ${reached || 'no dataset'}; outside Assay, in ${outside || 'nothing known'}; ${erasure.models.length} model versions trained on it (the registry comes later); only a salted hash of the id is kept`);
  if (!erasure.datasetVersions.some((v) => v.dataset === 'credit-features')) throw new Error('the erasure request did not find the feature table');
  if (!erasure.externalDatasets.some((x) => x.namespace === 's3://risk-lake')) throw new Error('the erasure request did not find what the Spark job wrote');

  step('bounded autonomy: the credit app asks before acting; a risk officer decides what it may not do alone');
  const refund = (amount, ...extra) =>
    JSON.parse(
      cliAs(people['credit-app'].token, '--json', 'policy', 'decide', '--action', 'payment.refund', '--risk', 'low', '--amount', String(amount), '--purpose', 'refund a duplicate loan fee', ...extra),
    );
  for (const amount of [30, 200]) {
    const a = refund(amount);
    console.log(`  refund ${String(amount).padStart(4)} → ${a.decision} (${a.rule})`);
  }
  const asked = refund(2000);
  console.log(`  refund 2000 → ${asked.decision}: approval request ${asked.approval.id} open until ${asked.approval.expiresAt}`);
  const early = await fetch(`${info.url}/api/v1/policy/decide`, {
    method: 'POST',
    headers: { authorization: `Bearer ${people['credit-app'].token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ action: 'payment.refund', risk: 'low', amount: 2000, purpose: 'refund a duplicate loan fee', approvalId: asked.approval.id }),
  });
  if (early.status !== 409) throw new Error(`acting before approval should be refused with 409, got ${early.status}`);
  console.log(`  acting before a human decided → ${early.status} ${(await early.json()).errors[0].detail.split(':')[0]} (a boundary violation: audited and counted)`);
  cliAs(people['risk-officer'].token, 'approval', 'approve', asked.approval.id, '--comment', 'customer complaint C-1182 verified');
  console.log(`  risk-officer approved ${asked.approval.id} with a comment`);
  const go = refund(2000, '--approval', asked.approval.id);
  console.log(`  credit-app acts on it → ${go.decision}; the approval is now ${go.approval.status}`);
  const metrics = await (await fetch(`${info.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const sample = (name) => metrics.split('\n').find((l) => l.startsWith(name)) ?? `${name} (absent)`;
  console.log(`  /metrics: ${sample('assay_autonomy_boundary_violations_total')}; ${sample('assay_audit_log_size')}; ${sample('assay_audit_sequencer_lag_seconds')}`);
  const paths = ['cached', 'class', 'evaluated'].map((p) => `${p} ${sample(`assay_policy_decisions_total{path="${p}"}`).split(' ').at(-1)}`);
  console.log(`  Cedar decisions so far by path: ${paths.join(', ')} (class: a request like an earlier one but for ids no policy names)`);

  step('audit bundle: the auditor exports the log and verifies it offline; an examiner checks the certified data against it');
  const bundle = join(home, 'audit-bundle.tgz');
  cliAs(people.auditor.token, 'audit', 'export', '--out', bundle);
  const verified = JSON.parse(cli('audit', 'verify', '--bundle', bundle, '--public-key', vkey, '--json'));
  if (!verified.ok) throw new Error(`bundle did not verify: ${JSON.stringify(verified)}`);
  console.log(
    `  ${bundle.split('/').pop()}: leaves [${verified.span.start}, ${verified.span.end}) under signed checkpoint ${verified.checkpoint.size}, key ${verified.keyTrusted === 'given' ? 'pinned' : 'from the bundle'}: verified with no server and no database`,
  );
  // The steward hands over the certified rows (an audited download, verified on arrival); the
  // examiner asks: are these the rows, and the raw file, this manifest certifies, and is the
  // certification in the log?
  const parquetFile = join(home, 'german-credit-v1.parquet');
  const fetched = JSON.parse(cliAs(people.steward.token, '--json', 'dataset', 'download', 'german-credit', '--version', String(ingested.version), '--out', parquetFile));
  console.log(`  steward: dataset download german-credit v${fetched.version} → ${fetched.size} bytes, ${fetched.rows} rows, sha256 verified (audited as dataset.download)`);
  const examined = JSON.parse(cli('--json', 'dataset', 'verify-manifest', manifestFile, '--public-key', vkey, '--bundle', bundle, '--parquet', parquetFile, '--snapshot', creditCsv));
  if (!examined.ok || !examined.parquetChecked || !examined.snapshotChecked) throw new Error(`manifest did not verify: ${JSON.stringify(examined)}`);
  console.log(
    `  examiner: german-credit v${examined.version} manifest signature verified; the Parquet and the raw CSV are the files it certifies; recorded by audit entry ${examined.auditEntry.index} (dataset.promote by the steward) in the bundle`,
  );

  step('stopping the server (SIGTERM)');
  server.kill('SIGTERM');
  const end = await exited;
  server = undefined;
  if (end.code !== 0) throw new Error(`server exited with ${end.code ?? end.signal}`);
  if (existsSync(join(home, 'server.json'))) throw new Error('server.json left behind');
  console.log('  stopped cleanly; lock and server.json removed');

  step('assay audit verify on the database: every leaf, interior hash and signed checkpoint');
  console.log(`  ${cli('audit', 'verify').trim()}`);
  console.log('\nDemo complete.');
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
} finally {
  if (server) server.kill('SIGKILL');
  if (!keep) rmSync(home, { recursive: true, force: true });
  else console.log(`home kept at ${home}`);
}
