import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// The floors of the house (docs/architecture.md). Each room says what it may not import; an import
// that breaks a rule is a design change: change the rule on purpose, in its own commit, or the code.
const outsideTheCore = [
  {
    group: ['**/engine/**'],
    message: 'The core decides; the engine runs it. Take what you need as an argument.',
  },
  {
    group: ['**/channels/**'],
    message: 'The core never sends: messages leave through the ChannelGateway port.',
  },
  { group: ['**/api/**', '**/cli/**'], message: 'The core knows no HTTP and no command line.' },
  {
    group: ['**/test/**', '**/bench/**', '**/dev/**'],
    message: 'Production code imports no test or bench code.',
  },
];
const adapterLibraries = {
  paths: ['express', 'bullmq', 'ioredis', 'mongodb', 'nodemailer', '@parse/node-apn', '@wecom/crypto'].map(
    (name) => ({ name, message: 'The core works on ports; adapters live in engine/adapters and channels/.' }),
  ),
  patterns: [
    ...outsideTheCore,
    { group: ['@alicloud/*'], message: 'Provider SDKs belong to channels/<provider>/.' },
  ],
};
const rule = (restriction) => ({ 'no-restricted-imports': ['error', restriction] });

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.bench/', 'dist/', 'web/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The ground floor: data shapes that everything may read, reading nothing of the project.
    files: ['model/**'],
    rules: rule({ patterns: [{ group: ['../**'], message: 'model/ imports nothing of the project.' }] }),
  },
  {
    // The ports: interfaces over the ground floor only.
    files: ['ports/**'],
    rules: rule({
      patterns: [{ regex: '^\\.\\./(?!model/)', message: 'ports/ import only model/.' }],
    }),
  },
  {
    // The rooms of the core: the rule language, profiles, segments, lifecycle, journeys, templates,
    // conversions, send-time policy, the compiled workspace, the decisions, the report assembly.
    files: [
      'rules/**',
      'profiles/**',
      'segments/**',
      'lifecycle/**',
      'journeys/**',
      'templates/**',
      'conversions/**',
      'policy/**',
      'workspace/**',
      'decide/**',
      'reports/**',
    ],
    rules: rule(adapterLibraries),
  },
  {
    // The send path reads journeys' messages through the outbox, never the journey machinery.
    files: ['channels/**'],
    rules: rule({
      patterns: [
        {
          group: ['**/journeys/**'],
          message: 'channels/ import no journey internals (see model/ and templates/).',
        },
        { group: ['**/api/**', '**/cli/**'], message: 'channels/ know no HTTP routes and no command line.' },
        {
          group: ['**/test/**', '**/bench/**', '**/dev/**'],
          message: 'Production code imports no test or bench code.',
        },
      ],
    }),
  },
  {
    files: ['engine/**'],
    rules: rule({
      patterns: [
        {
          group: ['**/api/**', '**/cli/**'],
          message: 'The engine knows no HTTP routes and no command line.',
        },
        {
          group: ['**/test/**', '**/bench/**', '**/dev/**'],
          message: 'Production code imports no test or bench code.',
        },
      ],
    }),
  },
  {
    files: ['api/**', 'cli/**'],
    rules: rule({
      patterns: [
        {
          group: ['**/test/**', '**/bench/**', '**/dev/**'],
          message: 'Production code imports no test or bench code.',
        },
      ],
    }),
  },
  {
    // Benchmarks share dev/ with the tests, never the tests' own helpers.
    files: ['bench/**'],
    rules: rule({ patterns: [{ group: ['**/test/**'], message: 'bench/ imports dev/, not test/.' }] }),
  },
  {
    // The core has no `any`; tests, benchmarks and dev tools may read loosely typed JSON answers.
    files: ['test/**', 'bench/**', 'dev/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // The analyst console runs in the browser.
  { files: ['web/**'], languageOptions: { globals: globals.browser } },
  // The mini-program tracker is CommonJS run by WeChat's JavaScript engine.
  {
    files: ['sdk/miniprogram/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        wx: 'readonly',
        module: 'writable',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    // Written in ES5 style for old base libraries: `var tracker = this` instead of arrow functions.
    rules: { 'no-var': 'off', '@typescript-eslint/no-this-alias': 'off' },
  },
);
