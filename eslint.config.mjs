import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'build/', 'cdk.out/', '.local/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['functions/**/*.ts'],
    rules: {
      'no-console': 'error',
      // What is deployed never reaches the local stack (its movable clock, its adapters): test/infra/bundling.test.ts checks the bundles.
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/infra/**'], message: 'functions/ is deployed: it may not import the CDK app or the local stack (infra/).' }] }],
    },
  },
);
