/**
 * Import first in a test file that reads the shared logger's output: the logger takes its level from
 * POWERTOOLS_LOG_LEVEL when created, and goes back to it on every warm invocation (SILENT in tests otherwise).
 */
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
