import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      '.bench/**',
      'demo-fleet/**',
      'oclif.manifest.json',
    ],
  },
  { languageOptions: { globals: { ...globals.node } } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/utils', '**/utils/**'],
              message: 'No utils grab-bag: put the helper next to the code that needs it.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['resources/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli/**', '**/controllers/**', '**/edge-stack/**', '**/control-api/**'],
              message: 'resources/ imports nothing from the other folders.',
            },
          ],
        },
      ],
    },
  },
);
