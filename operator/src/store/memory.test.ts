import { cursorStoreContract, leafStoreContract, logStoreContract, roundStoreContract } from './contract.ts';
import { MemoryCursorStore, MemoryLeafStore, MemoryLogStore, MemoryRoundStore } from './memory.ts';

logStoreContract('memory', () => Promise.resolve(new MemoryLogStore()));
roundStoreContract('memory', () => Promise.resolve(new MemoryRoundStore()));
cursorStoreContract('memory', () => Promise.resolve(new MemoryCursorStore()));
leafStoreContract('memory', () => Promise.resolve(new MemoryLeafStore()));
