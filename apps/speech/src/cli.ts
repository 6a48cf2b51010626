#!/usr/bin/env node
/**
 * simplex-speech: wav2vec 2.0-style contrastive speech learning with the paper's quantizers.
 *
 *   simplex-speech train   [options]   one run → config.json, metrics.json, history.csv, checkpoint, report.md
 *   simplex-speech compare [options]   methods × G × seeds → summary.json and a report with tables and charts
 *
 * Options are validated (a bad value exits with code 2 and names the option); long work shows a
 * progress bar; runs are seeded and resumable.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError, folderOption, gridFolderOption, intListOption, listOption, priorRun, progress, refuseWithResume, resumeFolderOption, runCli, runConflictError, runFolderOption,
  str, type CliDefinition, type OptionValues, type Progress,
} from '@simplex-vq/app-kit';
import { CheckpointError } from '@simplex-vq/nn';
import { METHODS, hasCodebook, isMethod, type Method } from '@simplex-vq/vq';
import { NOT_IDENTITY, SPEECH_DEFAULTS as D, normalizeSavedSpeechConfig, resolveSpeechConfig, type SpeechConfig } from './config.js';
import type { SpeechStep, SpeechTrainOptions } from './train.js';

// What draws pictures (vega, resvg) loads in a second: only when a command runs, so that a bad
// command line is answered at once.
const later = {
  compare: () => import('./compare.js'),
  report: () => import('./report.js'),
  train: () => import('./train.js'),
};

/** The methods of the speech experiment (the spec's claim 7): the wav2vec 2.0 default and the rest. */
export const SPEECH_METHODS: Method[] = ['gumbel', 'ste', 'simvq', 'perplexity', 'knn-l2', 'knn-ce'];

const MODEL = `Model options:
  --method <name>          ${METHODS.join(' | ')} (default ${D.method})
  --groups <G>             codebooks (product quantization over C/G channels each) (default ${D.groups})
  --codebook-size <M>      codes per group (default ${D.codebookSize})
  --conv-channels <C>      channels of the feature encoder, what the quantizer sees (default ${D.convChannels})
  --d-model <n>            transformer width (default ${D.dModel})
  --layers <n>             transformer layers (default ${D.layers})
  --heads <n>              attention heads (default ${D.heads})
  --ff-dim <n>             transformer feed-forward width (default ${D.ffDim})
  --final-dim <n>          dimension the contrastive loss compares in (default ${D.finalDim})
  --k <K>                  KNN: neighbours per vertex (default ${D.k})
  --shards <S>             KNN: split each batch's vectors into S parts (default ${D.shards})
  --init <data|normal>     how codebooks start: data = k-means on the encoder's outputs of the first
                           batch (the fair start), normal = N(0, std²) (default ${D.init})
  --init-std <x>           with --init normal: the std of the codebook entries (default ${D.initStd})`;

const TRAINING = `Training options:
  --steps <n>              training steps (default ${D.steps})
  --batch-size <n>         utterances per step (default ${D.batchSize})
  --max-seconds <s>        longer utterances are cropped at random to this (default ${D.maxSeconds})
  --lr <x>                 Adam learning rate (default ${D.lr})
  --seed <n>               seed of initialization, batches, crops, masks, distractors (default ${D.seed})
  --mask-prob <p>          probability that a frame starts a masked span (default ${D.maskProb})
  --mask-span <n>          frames per masked span (default ${D.maskSpan})
  --distractors <n>        distractors per masked step (default ${D.distractors})
  --temperature <κ>        of the cosine similarities (default ${D.temperature})
  --backend <cpu|gpujs>    tensor backend (default ${D.backend})
  --threads <n|auto>       CPU threads for large products; results do not depend on it (default ${D.threads})
  --checkpoint-every <n>   steps between checkpoints (default ${D.checkpointEvery})

Evaluation options (on the held-out speakers):
  --test-fraction <f>      fraction of the speakers held out, at least one each side (default ${D.testFraction})
  --eval-utterances <n>    at most n held-out utterances are evaluated, evenly spread; 'all' for
                           every one (default ${D.evalUtterances})
  --probe-utterances <n>   the word probe reads at most n single-word utterances of each side,
                           evenly spread; 'all' for every one (default ${D.probeUtterances})

Data options (default: a synthetic espeak-ng corpus, made once and cached):
  --data <folder>          a folder of WAV files instead (any PCM/float format, rate, channels)
  --label-pattern <regex>  with --data: a file name's label is the regex's first group, e.g. '^(\\d+)_'
  --speaker-pattern <re>   with --data: a file name's speaker is the regex's first group, e.g. '^\\d+_([a-z]+)_'
                           (default: the file's subfolder); test speakers are held out
  --trim-silence <dB|off>  with --data: cut leading and trailing audio quieter than the loudest 10 ms
                           by this many dB, e.g. 40 (default off; the synthetic corpus is always
                           trimmed at 40 dB when it is made)
  --corpus-seed <n>        synthetic corpus: seed of voices, words, pitches, speeds (default ${D.corpusSeed})
  --vocabulary <n>         synthetic corpus: the first n of its 35 words, digits first (default ${D.vocabulary})
  --per-word <n>           synthetic corpus: single-word utterances per word (default ${D.perWord})
  --sequences <n>          synthetic corpus: multi-word utterances (default ${D.sequences})
  --speakers <n>           synthetic corpus: speakers (default ${D.speakers})
  --cache-dir <dir>        where the synthetic corpus is cached (default ${D.cacheDir})`;

const strip = (text: string, ...options: string[]) => options.reduce((t, o) => t.replace(new RegExp(`\\n  --${o} [^\\n]*`), ''), text);

const HELP = {
  main: `Usage: simplex-speech <command> [options]

wav2vec 2.0-style contrastive speech learning at laptop scale, with the quantizers of "Pushing
Toward the Simplex Vertices": does KNN-CE keep every code alive where the usual quantizers collapse,
with one codebook and with two? Trains on a synthetic espeak-ng corpus of spoken words (or your
WAV files), evaluates code usage on held-out speakers, and probes the features for the word.

Commands:
  train     train and evaluate one run
  compare   several methods, codebook counts and seeds with shared settings, one report

Run 'simplex-speech <command> --help' for its options.
`,
  train: `Usage: simplex-speech train [options]

Trains one model and writes to --out: config.json, metrics.json, history.csv,
checkpoint.safetensors, training.png, usage-g<g>.png and report.md.

  --out <dir>              run directory (default runs/speech/<method>-g<G>-seed<seed>)
  --resume <dir>           continue an interrupted run from its checkpoint (bit-exact), or from step 0
                           if it stopped before its first; its settings are the run's: only --steps
                           (to raise its step count) and --threads may be given with it
${MODEL}
${TRAINING}
  -h, --help               this help
`,
  compare: `Usage: simplex-speech compare [options]

Runs every method × G × seed with shared settings into --out/<method>-g<G>-seed<seed>/ and writes
summary.json and report.md (a table per G of mean ± spread over seeds, curves and bar charts).
Running it again with the same --out reuses finished runs and resumes interrupted ones.

  --methods <a,b,...>      methods (default ${SPEECH_METHODS.join(',')})
  --groups <g1,g2,...>     codebook counts (default 1,2)
  --seeds <s1,s2,...>      seeds (default 0,1)
  --out <dir>              output directory (default runs/speech-compare)
${strip(MODEL, 'method', 'groups')}
${strip(TRAINING, 'seed')}
  -h, --help               this help
`,
};

/** Command-line option → config key. */
const KEYS: Record<string, keyof SpeechConfig> = {
  method: 'method', groups: 'groups', 'codebook-size': 'codebookSize', 'conv-channels': 'convChannels', 'd-model': 'dModel',
  layers: 'layers', heads: 'heads', 'ff-dim': 'ffDim', 'final-dim': 'finalDim', k: 'k', shards: 'shards', steps: 'steps',
  'batch-size': 'batchSize', 'max-seconds': 'maxSeconds', lr: 'lr', seed: 'seed', 'mask-prob': 'maskProb', 'mask-span': 'maskSpan',
  distractors: 'distractors', temperature: 'temperature', backend: 'backend', 'checkpoint-every': 'checkpointEvery', data: 'data',
  'label-pattern': 'labelPattern', 'speaker-pattern': 'speakerPattern', 'corpus-seed': 'corpusSeed', vocabulary: 'vocabulary', 'per-word': 'perWord',
  sequences: 'sequences', speakers: 'speakers', 'cache-dir': 'cacheDir', 'test-fraction': 'testFraction', 'trim-silence': 'trimSilence',
  'eval-utterances': 'evalUtterances', 'probe-utterances': 'probeUtterances', init: 'init', 'init-std': 'initStd', threads: 'threads',
};

const SPEC = Object.fromEntries([...Object.keys(KEYS), 'out', 'resume', 'methods', 'seeds'].map((k) => [k, { type: 'string' as const }]));

function configFrom(v: OptionValues, skip: string[] = []): SpeechConfig {
  const raw: Partial<Record<keyof SpeechConfig, unknown>> = {};
  for (const [option, key] of Object.entries(KEYS)) if (!skip.includes(option) && typeof v[option] === 'string') raw[key] = v[option];
  const data = str(v, 'data');
  if (data !== undefined && !(data.trim() !== '' && existsSync(data) && statSync(data).isDirectory())) throw new ConfigError('data', `'${data}' is not a folder`);
  if (str(v, 'cache-dir') !== undefined) folderOption('cache-dir', str(v, 'cache-dir'));
  for (const o of ['label-pattern', 'speaker-pattern', 'trim-silence']) if (str(v, o) !== undefined && data === undefined) throw new ConfigError(o, 'applies only with --data <folder>');
  const config = resolveSpeechConfig(raw);
  if (str(v, 'init-std') !== undefined && config.init !== 'normal') throw new ConfigError('init-std', `applies only with --init normal (the ${config.init} init takes its codes from the data)`);
  return config;
}

/** A bar for training steps; lines for the corpus synthesis and the slower phases. */
function reporter(label: string, steps: number): SpeechTrainOptions & { stop(): void } {
  let bar: Progress | null = null;
  let corpus: Progress | null = null;
  return {
    log: (msg) => {
      bar?.stop();
      console.log(msg);
    },
    onCorpusProgress: (done, total) => {
      corpus ??= progress('synthesizing the speech corpus (once; cached)', total);
      corpus.update(done, {});
      if (done === total) corpus.stop();
    },
    onStep: (s: SpeechStep) => {
      bar ??= progress(label, steps, { fields: ['loss', 'accuracy', 'batchUsage'] });
      bar.update(s.step, { loss: s.loss.toFixed(3), accuracy: s.accuracy.toFixed(3), batchUsage: s.batchUsage.toFixed(3) });
    },
    onPhase: (phase) => {
      bar?.stop();
      process.stderr.write(`${label}: ${phase === 'probe' ? 'word probe on frozen context features' : 'evaluating on the test speakers'}...\n`);
    },
    stop: () => bar?.stop(),
  };
}

async function train(v: OptionValues): Promise<void> {
  let config: SpeechConfig;
  let dir: string;
  const resume = v.resume;
  if (resume !== undefined) {
    refuseWithResume(v);
    const given = configFrom(v);
    const { dir: d, saved } = resumeFolderOption('resume', resume);
    dir = d;
    const { readSavedSpeechConfig } = await later.train();
    readSavedSpeechConfig(dir, saved); // a config.json that is not a run's settings stops here
    config = { ...given, steps: v.steps === undefined ? 0 : given.steps };
  } else {
    config = configFrom(v);
    if (str(v, 'init') !== undefined && !hasCodebook(config.method)) throw new ConfigError('init', `${config.method} has no codebook to initialize`);
    dir = runFolderOption('out', str(v, 'out') ?? join('runs', 'speech', `${config.method}-g${config.groups}-seed${config.seed}`));
    // A run with other settings is not overwritten (as compare refuses it); the same settings train again.
    const prior = priorRun(dir, config, NOT_IDENTITY, normalizeSavedSpeechConfig);
    if (prior.status === 'conflict') throw runConflictError(dir, prior.differences);
  }
  const { trainSpeechRun } = await later.train();
  const r = reporter(`train ${config.method} G=${config.groups}`, config.steps);
  const run = await trainSpeechRun(dir, config, { ...r, resume: resume !== undefined });
  r.stop();
  const { noProbeReason, writeSpeechReport } = await later.report();
  await writeSpeechReport(dir, run.config, run.metrics);
  const m = run.metrics;
  const probe = m.probeWords >= 2 ? `probe ${m.probeAccuracy.toFixed(3)} (random model ${m.probeFloor.toFixed(3)}, chance ${m.probeChance.toFixed(3)})` : noProbeReason(m.probeWords).replace(/ \(.*/, '');
  console.log(`${m.method} G=${m.groups}, init ${m.init ?? 'none'}: code usage ${m.codeUsage.toFixed(3)} (per group ${m.codeUsagePerGroup.map((u) => u.toFixed(3)).join(', ')}), individual perplexity ${m.individualPerplexity.toFixed(2)}, contrastive accuracy ${m.contrastiveAccuracy.toFixed(3)} on ${m.evalUtterances} of ${m.heldOutUtterances} held-out utterances, ${probe}, ${m.stepsPerSecond.toFixed(2)} steps/s`);
  console.log(`report: ${join(dir, 'report.md')}`);
}

async function compare(v: OptionValues): Promise<void> {
  const methods = listOption('methods', str(v, 'methods') ?? SPEECH_METHODS.join(','), (s) => {
    if (!isMethod(s)) throw new ConfigError('methods', `unknown method '${s}'; choose from ${METHODS.join(', ')}`);
    return s;
  });
  const groups = intListOption('groups', str(v, 'groups') ?? '1,2', 1, 64);
  const seeds = intListOption('seeds', str(v, 'seeds') ?? '0,1', 0, 2 ** 31);
  const base = configFrom(v, ['groups']);
  for (const g of groups) for (const method of methods) resolveSpeechConfig({ groups: g, method }, base); // each G must divide the channels and fit in memory
  if (str(v, 'init') !== undefined && !methods.some(hasCodebook)) throw new ConfigError('init', `none of ${methods.join(', ')} has a codebook to initialize`);
  const out = gridFolderOption('out', str(v, 'out') ?? join('runs', 'speech-compare'));
  const { compareSpeech, speechTable } = await later.compare();
  const { describeSplit } = await later.train();
  console.log(`compare: ${methods.join(', ')} × G = ${groups.join(', ')} × seeds ${seeds.join(', ')}; M = ${base.codebookSize}, codebook init ${base.init}, ${base.steps} steps of ${base.batchSize} utterances → ${out}`);
  let current: ReturnType<typeof reporter> | null = reporter('compare', base.steps); // until the first run: the data
  const results = await compareSpeech({
    methods,
    groups,
    seeds,
    base,
    out,
    onData: (d) => {
      console.log(`data: ${d.description}; ${d.train.utterances.length} train / ${d.test.utterances.length} test utterances`);
      console.log(describeSplit(d));
    },
    onRun: (name, i, total, reused) => {
      current?.stop();
      current = reporter(`[${i + 1}/${total}] ${name}`, base.steps);
      if (reused) console.log(`[${i + 1}/${total}] ${name}: finished earlier, reusing its metrics`);
    },
    train: {
      log: (m) => current?.log?.(m),
      onCorpusProgress: (d, t) => current?.onCorpusProgress?.(d, t),
      onStep: (s) => current?.onStep?.(s),
      onPhase: (p) => current?.onPhase?.(p),
    },
  });
  (current as ReturnType<typeof reporter> | null)?.stop();
  for (const g of groups) console.log(`\nG = ${g}\n${speechTable(results, g)}`);
  console.log(`\nreport: ${join(out, 'report.md')}`);
}

const TRAIN_OPTIONS = [...Object.keys(KEYS), 'out', 'resume'];
const CLI: CliDefinition = {
  name: 'simplex-speech',
  help: HELP.main,
  spec: SPEC,
  commands: {
    train: { help: HELP.train, options: TRAIN_OPTIONS, run: train },
    compare: { help: HELP.compare, options: [...Object.keys(KEYS).filter((k) => k !== 'method' && k !== 'seed'), 'out', 'methods', 'seeds'], run: compare },
  },
  inputErrors: [CheckpointError],
};

process.exit(await runCli(CLI, process.argv.slice(2)));
