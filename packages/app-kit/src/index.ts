export { ConfigError, RunError, RunFileError, UsageError } from './errors.js';
export { choiceOption, intListOption, intOption, kebab, listOption, numberOption } from './options.js';
export { REPORT_TO, parseCommandLine, runCli, str, whereThrown, type CliDefinition, type Command, type OptionSpec, type OptionValues } from './cli.js';
export { progress, type Progress, type ProgressOptions } from './progress.js';
export { aggregate, configDifferences, meanCell, priorRun, runConflictError, runGrid, thin, type Aggregate, type GridOptions, type GridRun, type PriorRun } from './runs.js';
export { threadsOption, useCpuBackend } from './backend.js';
export { RUN_CONFIG, folderOption, gridFolderOption, makeFolder, resumeFolderOption, runFolderOption } from './folders.js';
export { RESUME_OPTIONS, checkRunCheckpoint, historyUpTo, refuseWithResume, type CheckedRunState, type CheckpointRecord } from './resume.js';
export { checkStateFinite, checkStepFinite, firstNonFinite, firstNonFiniteTensor, type LastCheckpoint } from './finite.js';
