// Type-aware lint for the whole project, plus the rule that keeps workflow code deterministic:
// workflows/ and src/shared/ run inside Temporal's sandbox, so they may not import Node
// built-ins, database drivers, process libraries or the non-workflow Temporal packages.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'child_process',
  'crypto',
  'net',
  'http',
  'https',
  'stream',
  'events',
  'util',
];
const sandboxForbidden = {
  patterns: [
    { group: ['node:*'], message: 'Workflow code runs in the Temporal sandbox: no Node built-ins.' },
    {
      group: ['pg', 'pg-*', 'execa', 'commander', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'],
      message: 'Workflow code may only import @temporalio/workflow and pure modules.',
    },
    {
      group: ['**/activities/*', '!**/activities/index.js'],
      message: 'Import activities as types only, through activities/index.js.',
    },
  ].map((pattern) => ({ ...pattern, allowTypeImports: true })),
  paths: nodeBuiltins.map((name) => ({
    name,
    message: 'Workflow code runs in the Temporal sandbox: no Node built-ins.',
  })),
};

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'test-output/**',
      'bench-results/**',
      '.scratch/**',
      'bin/**',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts', 'src/shared/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', sandboxForbidden] },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
