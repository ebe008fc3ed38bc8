// Type-aware lint. The domain boundary rule keeps operator/src/domain/ pure:
// it may import node: built-ins and a short list of pure packages, nothing else.
import { dirname, resolve } from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { roomOf, roomViolation } from './operator/src/rooms.ts';

const srcRoot = resolve(import.meta.dirname, 'operator/src');

// threatmesh/rooms: an import between rooms of operator/src must follow ROOM_IMPORTS (operator/src/rooms.ts).
const rooms = {
  meta: { type: 'problem', docs: { description: 'imports between rooms of operator/src follow operator/src/rooms.ts' }, schema: [] },
  create(context) {
    const from = roomOf(srcRoot, context.filename);
    const check = (node) => {
      const spec = node.source?.value;
      if (from === undefined || typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = roomOf(srcRoot, resolve(dirname(context.filename), spec));
      const why = to === undefined ? undefined : roomViolation(from, to);
      if (why !== undefined) context.report({ node: node.source, message: `import of ${spec}: ${why}` });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'bench/results/**', 'fuzz/findings/**', 'crds/**', 'charts/**', '**/*.generated.ts', 'operator/src/exchange/protocol/gen/**', 'cdk8s/imports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', fetch: 'readonly', structuredClone: 'readonly', performance: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      complexity: ['warn', 15],
      'max-depth': ['warn', 4],
      'max-params': ['warn', 5],
    },
  },
  {
    files: ['operator/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    plugins: { threatmesh: { rules: { rooms } } },
    rules: { 'threatmesh/rooms': 'error' },
  },
  {
    files: ['operator/src/domain/**/*.ts'],
    ignores: ['operator/src/domain/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['../*', '!./*'], message: 'operator/src/domain/ is pure: import nothing outside it.' },
          { regex: '^(?!node:|\\./|canonicalize$).*', message: 'operator/src/domain/ may import only node: built-ins, sibling modules and canonicalize.' },
        ],
      }],
      'no-restricted-globals': ['error', { name: 'process', message: 'domain code must not read process state' }, { name: 'fetch', message: 'domain code does no I/O' }],
    },
  },
  {
    files: ['operator/src/**/*.ts'],
    ignores: ['operator/src/main.ts', '**/*.test.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read process.env only in operator/src/main.ts (the composition root)' }],
    },
  },
  {
    files: ['**/*.test.ts', 'operator/src/**/contract.ts', 'e2e/**/*.ts', 'bench/**/*.ts', 'fuzz/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
