import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.bench/'] },
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
    // The core has no `any`; tests and benchmarks may read loosely typed JSON answers.
    files: ['test/**', 'bench/**'],
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
