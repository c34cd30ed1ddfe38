/**
 * The layer rules of rekey, checked by dependency-cruiser inside `npm test` (`npm run boundaries`).
 * docs/architecture.md draws the layers and lists every rule below by name; a test
 * (test/architecture/boundaries.test.ts) keeps the two in step and shows that a wrong-way import
 * fails the check.
 *
 * Layers, lowest first:
 *   errors       shared/errors.ts
 *   vocabulary   shared/vocabulary/           schemas, the one keyring-name rule, event and metric names
 *   core         shared/{envelope,catalog,ports,keys,cache,escrow,reencrypt}/ and errors.ts
 *   config       shared/config/
 *   usecases     shared/usecases/             one function per use case, over ports
 *   adapters     shared/adapters/<backend>/   one adapter per port and backend
 *   lambda kit   shared/lambda/               Middy, Powertools, error mapping, validation
 *   compose      shared/compose/<backend>/    composition roots: the only place that wires adapters to use cases
 *   app          shared/app/                  the application package: client (AWS, local) and Middy middleware
 *   entry points functions/ (Lambdas); cli/, bin/ (the CLI); infra/ (the CDK app)
 *
 * Type-only imports count (tsPreCompilationDeps): a type drawn from the wrong layer is a
 * wrong-way dependency too, even though the compiler erases it.
 */

/** Core modules: pure logic and ports, no I/O client. */
const CORE = '^shared/(errors\\.ts$|(envelope|catalog|ports|keys|cache|escrow|reencrypt)/)';
/** Every dependency type that names an npm package. */
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'];
/** Code that is deployed or installed, as opposed to tests, benchmarks and tooling. */
const SHIPPED = '^(shared|functions|cli|bin|infra)/';

/* global module -- a CommonJS config file, read by dependency-cruiser and by the tests */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles: every layer, and every module inside one, has a direction.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A module in shared/ that nothing imports and that imports nothing is dead code.',
      from: { orphan: true, path: '^shared/' },
      to: {},
    },
    {
      name: 'shared-reachable',
      severity: 'error',
      comment:
        'Every module in shared/ is reached from an entry point: a Lambda handler, the CLI, the CDK app, ' +
        'or a module index (shared/<module>/index.ts, the entry of a library user). Code only a test reaches is dead code.',
      from: { path: ['^functions/[^/]+/handler\\.ts$', '^infra/app\\.ts$', '^bin/[^/]+\\.ts$', '^shared/.+/index\\.ts$'] },
      // A module index is an entry point itself (the library's), not something to be reached.
      to: { path: '^shared/', pathNot: '^shared/[^/]+/index\\.ts$', reachable: false },
    },
    {
      name: 'shared-not-to-outer',
      severity: 'error',
      comment: 'Nothing in shared/ imports an entry point (cli/, functions/, infra/, bin/) or tests, benchmarks.',
      from: { path: '^shared/' },
      to: { path: '^(cli|functions|infra|bin|test|bench)/' },
    },
    {
      name: 'errors-is-the-floor',
      severity: 'error',
      comment: 'shared/errors.ts imports nothing else in shared/: every layer may import it.',
      from: { path: '^shared/errors\\.ts$' },
      to: { path: '^shared/' },
    },
    {
      name: 'vocabulary-is-low',
      severity: 'error',
      comment: 'The vocabulary imports only itself, shared/errors.ts, zod and node built-ins, so anyone may import it.',
      from: { path: '^shared/vocabulary/' },
      to: { dependencyTypesNot: ['core'], pathNot: ['^shared/vocabulary/', '^shared/errors\\.ts$', '^node_modules/zod/'] },
    },
    {
      name: 'core-not-to-outer-layers',
      severity: 'error',
      comment: 'Core modules import no adapter, use case, composition root, Lambda kit or configuration.',
      from: { path: CORE },
      to: { path: '^shared/(adapters|usecases|compose|lambda|config)/' },
    },
    {
      name: 'core-no-npm',
      severity: 'error',
      comment: 'Core modules import no npm package (no AWS SDK, Smithy, Redis, SQLite, PostgreSQL, Middy or Powertools); zod comes through the vocabulary.',
      from: { path: CORE },
      to: { dependencyTypes: NPM },
    },
    {
      name: 'envelope-is-lowest-core',
      severity: 'error',
      comment: 'The envelope format depends on no other core module (it has its own fast keyring-name byte check).',
      from: { path: '^shared/envelope/' },
      to: { path: '^shared/(catalog|ports|keys|cache|escrow|reencrypt)/' },
    },
    {
      name: 'catalog-below-services',
      severity: 'error',
      comment: 'The catalog (model, lifecycle, policy) sits below the services built on it: keys, cache, escrow, reencrypt.',
      from: { path: '^shared/catalog/' },
      to: { path: '^shared/(keys|cache|escrow|reencrypt)/' },
    },
    {
      name: 'core-services-independent',
      severity: 'error',
      comment: 'keys, cache, escrow and reencrypt do not import each other; they meet in use cases and composition roots.',
      from: { path: '^shared/(keys|cache|escrow|reencrypt)/' },
      to: { path: '^shared/(keys|cache|escrow|reencrypt)/', pathNot: '^shared/$1/' },
    },
    {
      name: 'ports-are-types',
      severity: 'error',
      comment: 'A port names the domain types it speaks in (type-only imports) and never runs core code.',
      from: { path: '^shared/ports/' },
      to: { path: '^shared/', pathNot: ['^shared/ports/', '^shared/vocabulary/', '^shared/errors\\.ts$'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'usecases-over-ports',
      severity: 'error',
      comment: 'Use cases see core, ports and vocabulary only: no adapter, composition root, Lambda kit or configuration.',
      from: { path: '^shared/usecases/' },
      to: { path: '^shared/(adapters|compose|lambda|config)/' },
    },
    {
      name: 'usecases-no-npm',
      severity: 'error',
      comment: 'Use cases import no npm package (no SDK, no client, no Powertools): what they need comes through ports.',
      from: { path: '^shared/usecases/' },
      to: { dependencyTypes: NPM },
    },
    {
      name: 'adapters-not-to-upper',
      severity: 'error',
      comment: 'Adapters implement ports with their client libraries; they import no use case, composition root, Lambda kit or configuration.',
      from: { path: '^shared/adapters/' },
      to: { path: '^shared/(usecases|compose|lambda|config)/' },
    },
    {
      name: 'local-stays-local',
      severity: 'error',
      comment: 'The local backend (adapters/local, adapters/redis, compose/local) pulls in no AWS adapter, composition or SDK.',
      from: { path: '^shared/(adapters/(local|redis)|compose/local)/' },
      to: { path: ['^shared/(adapters|compose)/aws/', 'node_modules/(@aws-sdk|@smithy)/'] },
    },
    {
      name: 'lambda-kit-is-generic',
      severity: 'error',
      comment:
        'The Lambda kit (handler shapes, middleware, logger, metrics) wraps whatever use case and services the function ' +
        'entry passes in: it imports no composition root and no adapter.',
      from: { path: '^shared/lambda/' },
      to: { path: '^shared/(compose|adapters)/' },
    },
    {
      name: 'lambda-kit-runs-no-usecase',
      severity: 'error',
      comment:
        'The Lambda kit knows the use-case contract (JobContext and the like, type-only imports from shared/usecases/) ' +
        'but runs no use case of its own: the function entry names it.',
      from: { path: '^shared/lambda/' },
      to: { path: '^shared/usecases/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'config-is-low',
      severity: 'error',
      comment: 'Configuration (environment names, the config schema) imports only the vocabulary, errors and node built-ins.',
      from: { path: '^shared/config/' },
      to: { dependencyTypesNot: ['core'], pathNot: ['^shared/config/', '^shared/vocabulary/', '^shared/errors\\.ts$'] },
    },
    {
      name: 'functions-are-thin',
      severity: 'error',
      comment:
        'A Lambda entry (functions/<name>/) imports only the Lambda kit, composition roots, use cases, ' +
        'the vocabulary, errors and files of its own folder: no adapter, SDK, configuration or core wiring of its own.',
      from: { path: '^(functions/[^/]+)/' },
      to: { dependencyTypesNot: ['core'], pathNot: ['^shared/(lambda|compose|usecases|vocabulary)/', '^shared/errors\\.ts$', '^$1/'] },
    },
    {
      name: 'infra-no-runtime',
      severity: 'error',
      comment:
        'The CDK app imports no runtime code: no adapter, use case, composition root, Lambda kit, Lambda handler or ' +
        'runtime client (it names handlers by path and bundles them).',
      from: { path: '^infra/' },
      to: {
        path: ['^shared/(adapters|usecases|compose|lambda)/', '^functions/', 'node_modules/(@aws-sdk|@smithy|ioredis|better-sqlite3|pg|@middy|@aws-lambda-powertools)/'],
      },
    },
    {
      name: 'cli-not-to-infra-or-kit',
      severity: 'error',
      comment: 'The CLI imports no CDK code, Lambda handler or Lambda kit: it calls use cases through composition roots.',
      from: { path: '^cli/' },
      to: { path: ['^(infra|functions)/', '^shared/lambda/', 'node_modules/(aws-cdk-lib|constructs|cdk-nag)/'] },
    },
    {
      name: 'app-is-the-outermost-library',
      severity: 'error',
      comment:
        'The application package (shared/app/) is what application teams import; nothing of rekey itself ' +
        '(the rest of shared/, functions/, cli/, infra/, bin/) imports it.',
      from: { path: '^(shared|functions|cli|infra|bin)/', pathNot: '^shared/app/' },
      to: { path: '^shared/app/' },
    },
    {
      name: 'app-through-composition',
      severity: 'error',
      comment:
        'The application package wires nothing itself: it reaches adapters through composition roots, runs no use case, ' +
        'and names AWS SDK or driver packages only in types (clients an application injects).',
      from: { path: '^shared/app/' },
      to: {
        path: ['^shared/(adapters|usecases)/', '^(cli|functions|infra|bin)/', 'node_modules/(@aws-sdk|@smithy|ioredis|better-sqlite3|aws-cdk-lib|constructs|cdk-nag)/'],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'app-loads-local-lazily',
      severity: 'error',
      comment:
        'The application package loads the local backends (SQLite) and the stack-outputs reader (CloudFormation) only ' +
        'by dynamic import, when a local client is made or a stack is named: an application Lambda never loads them.',
      from: { path: '^shared/app/' },
      to: { path: ['^shared/compose/local/', '^shared/compose/aws/stack-outputs-reader\\.ts$'], dependencyTypesNot: ['dynamic-import'] },
    },
    {
      name: 'no-dev-deps-in-shipped',
      severity: 'error',
      comment:
        'Shipped code imports no devDependency (type-only imports, erased at build, excepted). bin/rekey.js may fall back ' +
        'to ts-node: it does so only in a checkout without a build, where devDependencies are installed. The optional ' +
        'peer dependencies of the construct subpath (aws-cdk-lib, constructs, cdk-nag) are devDependencies only so the ' +
        'repository installs them; the package declares them to its users as peers.',
      from: { path: SHIPPED, pathNot: '^bin/rekey\\.js$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only', 'npm-peer'] },
    },
    {
      name: 'no-undeclared-packages',
      severity: 'error',
      comment:
        'Every package imported by shipped code is declared in package.json. A peer dependency is declared: the checker also ' +
        'reads peerDependenciesMeta as a dependency list it does not know, and would call each optional peer undeclared.',
      from: { path: SHIPPED },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'], dependencyTypesNot: ['npm-peer'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves to a file (a typo or a missing package fails here, not at run time).',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // CommonJS resolution with package "exports" subpaths (e.g. @aws-lambda-powertools/logger/middleware).
    enhancedResolveOptions: {
      exportsFields: ['exports'], conditionNames: ['require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.json'],
    },
    skipAnalysisNotInRules: true,
    cache: { folder: 'node_modules/.cache/dependency-cruiser', strategy: 'content' },
  },
};
