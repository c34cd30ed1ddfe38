// Lint: typescript-eslint's recommended rules, plus the house rules that catch real defects.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'cdk.out/', 'coverage/', 'bench/results/', 'test/vectors/*.json', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Export each public name explicitly.' }],
    },
  },
  {
    // Code bundled into the Lambda functions: full zod costs ~65 KB and several ms of cold start.
    files: ['shared/**/*.ts', 'functions/**/*.ts'],
    ignores: ['shared/vocabulary/zod.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'zod', message: 'Lambda code uses zod/mini: import * as z from shared/vocabulary/zod.' },
            { name: 'zod/mini', message: 'Import shared/vocabulary/zod instead (zod/mini with English messages).' },
          ],
          patterns: [{ group: ['zod/v4', 'zod/v4/*', 'zod/v3'], message: 'Import shared/vocabulary/zod instead.' }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
