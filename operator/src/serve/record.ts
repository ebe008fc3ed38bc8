/**
 * The serving side's view of the partner's replicated indicators and the backend port the TAXII
 * views and exports read through (medallion-style: thin views over one port). The types live
 * with their MongoDB implementation in store/ (store/served.ts), so store/ never imports serve/.
 */
export type { IndicatorReader, ServedChange, ServedRecord, VersionPage, VersionQuery, VersionRow, VersionView } from '../store/served.ts';
