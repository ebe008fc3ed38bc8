import { cursorStoreContract, logStoreContract, roundStoreContract } from './contract.ts';
import { MemoryCursorStore, MemoryLogStore, MemoryRoundStore } from './memory.ts';

logStoreContract('memory', () => Promise.resolve(new MemoryLogStore()));
roundStoreContract('memory', () => Promise.resolve(new MemoryRoundStore()));
cursorStoreContract('memory', () => Promise.resolve(new MemoryCursorStore()));
