import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Lifecycle times come from one clock (functions/shared/clock.ts), which the local stack can move; durations use performance.now().
const CURRENT_TIME_FROM_THE_CLOCK = [
  'error',
  { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Read the current time from functions/shared/clock.ts (clock.now()), or an injected `now` defaulting to it; durations: performance.now().' },
  { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'Read the current time from functions/shared/clock.ts (clock.now()), or an injected `now` defaulting to it; durations: performance.now().' },
];

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
      'no-restricted-syntax': CURRENT_TIME_FROM_THE_CLOCK,
    },
  },
  {
    files: ['infra/local/**/*.ts'],
    rules: { 'no-restricted-syntax': CURRENT_TIME_FROM_THE_CLOCK },
  },
);
