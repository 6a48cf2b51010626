export { ConfigError, UsageError } from './errors.js';
export { choiceOption, intListOption, intOption, kebab, listOption, numberOption } from './options.js';
export { parseCommandLine, runCli, str, type CliDefinition, type Command, type OptionSpec, type OptionValues } from './cli.js';
export { progress, type Progress, type ProgressOptions } from './progress.js';
export { aggregate, meanCell, priorRun, runConflictError, runGrid, thin, type Aggregate, type GridOptions, type GridRun, type PriorRun } from './runs.js';
export { threadsOption, useCpuBackend } from './backend.js';
