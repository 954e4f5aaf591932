// Layer rules of the tree (docs/architecture.md), checked by `npm run lint:layers` and in CI:
// shared at the bottom; controller, agent and cli each on shared only; bin on top.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import loops, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-is-the-bottom',
      severity: 'error',
      comment: 'shared/ is used by both daemons and the CLI and depends on none of them.',
      from: { path: '^shared/' },
      to: { path: '^(agent|controller|cli|bin)/' },
    },
    {
      name: 'agent-uses-only-shared',
      severity: 'error',
      comment: 'The agent and the controller never import each other; code both need lives in shared/.',
      from: { path: '^agent/' },
      to: { path: '^(controller|cli|bin)/' },
    },
    {
      name: 'controller-uses-only-shared',
      severity: 'error',
      from: { path: '^controller/' },
      to: { path: '^(agent|cli|bin)/' },
    },
    {
      name: 'cli-uses-only-shared',
      severity: 'error',
      comment: 'The CLI talks to the controller over the API only.',
      from: { path: '^cli/' },
      to: { path: '^(agent|controller|bin)/' },
    },
    {
      name: 'domain-does-not-know-http',
      severity: 'error',
      comment: 'Controller domain code throws the errors of controller/errors.ts; only the API layer and the wiring in main.ts know HTTP.',
      from: { path: '^controller/', pathNot: '^controller/(api/|main\\.ts$|auth/routes\\.ts$)' },
      to: { path: '^controller/api/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist)/' },
  },
};
