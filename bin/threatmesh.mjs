#!/usr/bin/env node
// Runs the TypeScript entry point through Node's type stripping (Node >= 22.19).
await import('../operator/src/main.ts');
