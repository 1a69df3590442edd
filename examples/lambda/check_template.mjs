// Check examples/lambda/template.yaml without AWS: it parses, it has
// what the seed's stacks had, every Ref and GetAtt resolves, IAM names
// only this stack's table, stream, queue, log groups and functions, and
// the state machine file is `orchestra asl` JSON whose placeholders are
// all substituted. (cfn-lint is not available here; this is no
// substitute for it.)
//
// usage: node check_template.mjs template.yaml statemachine.asl.json
import fs from 'node:fs';
import YAML from 'yaml';

const [tplPath, aslPath] = process.argv.slice(2);
const tpl = YAML.parse(fs.readFileSync(tplPath, 'utf8'));
const R = tpl.Resources;
let failures = 0;
function check(ok, what) {
  if (!ok) {
    console.log('FAIL: ' + what);
    failures++;
  }
}

// The table: the seed's keys, a stream with both images, TTL.
const t = R.Table.Properties;
check(R.Table.Type === 'AWS::DynamoDB::Table', 'Table type');
check(JSON.stringify(t.KeySchema) === JSON.stringify([
  { AttributeName: 'pk', KeyType: 'HASH' },
  { AttributeName: 'sk', KeyType: 'RANGE' }]), 'keys pk/sk');
check(t.StreamSpecification.StreamViewType === 'NEW_AND_OLD_IMAGES',
  'stream NEW_AND_OLD_IMAGES');
check(t.TimeToLiveSpecification.Enabled === true &&
  t.TimeToLiveSpecification.AttributeName === 'ttl', 'TTL on ttl');
// The live index the backend queries (orc_dynamodb_create_table's).
const live = (t.GlobalSecondaryIndexes || []).find(
  (g) => g.IndexName === 'orc-live');
check(live && JSON.stringify(live.KeySchema) === JSON.stringify([
  { AttributeName: 'live', KeyType: 'HASH' },
  { AttributeName: 'pk', KeyType: 'RANGE' }]), 'index orc-live on live/pk');

// Three provided.al2023 functions from the built zips.
for (const f of ['OrchestratorFunction', 'WorkerFunction', 'TaskFunction']) {
  const p = R[f].Properties;
  check(p.Runtime === 'provided.al2023', f + ' runtime');
  check(/^[a-z]+\.zip$/.test(p.Code), f + ' code is a built zip');
}
check(R.OrchestratorFunction.Properties.Environment.Variables.ORC_TABLE
  .Ref === 'Table', 'orchestrator knows the table');

// The stream mapping.
const m = R.StreamMapping.Properties;
check(m.EventSourceArn['Fn::GetAtt'].join('.') === 'Table.StreamArn',
  'mapping reads the table stream');
check(m.FunctionName.Ref === 'OrchestratorFunction', 'mapping target');
check(m.BatchSize !== undefined, 'batch size');
check(m.BisectBatchOnFunctionError === true, 'bisect on error');
check((m.FunctionResponseTypes || []).includes('ReportBatchItemFailures'),
  'ReportBatchItemFailures');
check(m.MaximumRetryAttempts > 0, 'failed records are retried');

// A dead worker's task runs again within 2 minutes: its lease (45 s at
// most, ORC_LAMBDA_LEASE_DEFAULT_MS) plus the reconcile period.
check(R.ReconcileSchedule.Properties.ScheduleExpression ===
  'rate(1 minute)', 'reconcile every minute');

// Every Ref / GetAtt / ${} names something that exists.
const pseudo = new Set(['AWS::Partition', 'AWS::Region', 'AWS::AccountId',
  'AWS::StackName']);
const known = new Set([...Object.keys(R), ...Object.keys(tpl.Parameters),
  ...pseudo]);
function walk(v, fn) {
  if (Array.isArray(v)) v.forEach((x) => walk(x, fn));
  else if (v && typeof v === 'object') {
    fn(v);
    Object.values(v).forEach((x) => walk(x, fn));
  }
}
walk(tpl, (o) => {
  if ('Ref' in o) check(known.has(o.Ref), 'Ref to ' + o.Ref);
  if ('Fn::GetAtt' in o) check(o['Fn::GetAtt'][0] in R,
    'GetAtt of ' + o['Fn::GetAtt'][0]);
  if (typeof o['Fn::Sub'] === 'string')
    for (const [, name] of o['Fn::Sub'].matchAll(/\$\{([^}.]+)/g))
      check(known.has(name), 'Sub of ' + name);
});

// Least privilege: no wildcard action or resource, DynamoDB only on this
// table and its stream, Invoke only on this stack's functions.
const fnNames = ['OrchestratorFunctionName', 'WorkerFunctionName',
  'TaskFunctionName'];
for (const [name, res] of Object.entries(R)) {
  if (res.Type !== 'AWS::IAM::Role') continue;
  for (const pol of res.Properties.Policies) {
    for (const st of pol.PolicyDocument.Statement) {
      const actions = [].concat(st.Action);
      const resources = [].concat(st.Resource);
      check(!actions.some((a) => a.includes('*')), name + ': action *');
      for (const r of resources) {
        const s = JSON.stringify(r);
        check(s !== '"*"' && !/:\*"$/.test(s) ||
          s.includes('TaskFunction.Arn'), name + ': resource ' + s);
        if (actions.some((a) => a.startsWith('dynamodb:')))
          check(/"Table","(Arn|StreamArn)"|"\$\{Table\.Arn\}\/index\/orc-live"/
            .test(s),
            name + ': dynamodb on ' + s);
        if (actions.includes('lambda:InvokeFunction'))
          check(fnNames.some((f) => s.includes('${' + f + '}')) ||
            s.includes('TaskFunction'), name + ': invoke on ' + s);
      }
    }
  }
}

// The state machine: the ASL file, every placeholder substituted.
const sm = R.StateMachine.Properties;
check(sm.DefinitionS3Location === aslPath.split('/').pop(),
  'state machine definition file');
const asl = JSON.parse(fs.readFileSync(aslPath, 'utf8'));
check(asl.StartAt && asl.States[asl.StartAt], 'ASL StartAt');
for (const [, name] of JSON.stringify(asl).matchAll(/\$\{(\w+)\}/g))
  check(name in sm.DefinitionSubstitutions, 'substitution ' + name);

if (failures) process.exit(1);
console.log('template ok');
