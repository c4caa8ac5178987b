/**
 * `ataru completion bash|zsh`: a shell completion script for every verb and
 * its options, generated from the program's own definitions (so it never
 * lags behind a new option). Install: `source <(ataru completion bash)`, or
 * `ataru completion zsh > "${fpath[1]}/_ataru"`.
 */
import { type Command, Option } from 'commander';
import { AtaruError } from '../../errors.js';

interface Verb {
  name: string;
  description: string;
  options: { flags: string[]; description: string; takesValue: boolean }[];
}

function verbs(program: Command): Verb[] {
  return program.commands.map((c) => ({
    name: c.name(),
    description: c.description(),
    options: [...(c.options as Option[]), new Option('-h, --help', 'display help')].map((o) => ({
      flags: [o.short, o.long].filter((x): x is string => !!x),
      description: o.description,
      takesValue: o.required || o.optional,
    })),
  }));
}

/** A word list safe inside single quotes. */
const sq = (s: string) => s.replace(/'/g, `'\\''`);

function bash(vs: Verb[]): string {
  const cases = vs.map((v) => `    ${v.name}) opts='${sq(v.options.flatMap((o) => o.flags).join(' '))}' ;;`).join('\n');
  return `# ataru completion for bash: source <(ataru completion bash)
_ataru() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W '${sq(vs.map((v) => v.name).join(' '))} help' -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    completion) COMPREPLY=( $(compgen -W 'bash zsh' -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o filenames -o bashdefault -F _ataru ataru
`;
}

/** Text inside a zsh _arguments/_describe spec: no brackets, colons or quotes. */
const zq = (s: string) => s.replace(/[[\]:]/g, ' ').replace(/'/g, `'\\''`);

function zsh(vs: Verb[]): string {
  const list = vs.map((v) => `    '${v.name}:${zq(v.description)}'`).join('\n');
  const cases = vs
    .map((v) => {
      const specs = v.options.flatMap((o) => o.flags.map((fl) => `'${fl}[${zq(o.description)}]${o.takesValue ? ':value:_files' : ''}'`));
      const tail = v.name === 'completion' ? `'1:shell:(bash zsh)'` : `'*:file:_files'`;
      return `    ${v.name}) _arguments ${[...specs, tail].join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef ataru
# ataru completion for zsh: ataru completion zsh > "\${fpath[1]}/_ataru", then compinit
_ataru() {
  local -a verbs
  verbs=(
${list}
  )
  if (( CURRENT == 2 )); then
    _describe 'verb' verbs
    return
  fi
  local verb=$words[2]
  shift words
  (( CURRENT-- ))
  case $verb in
${cases}
  esac
}
_ataru "$@"
`;
}

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(ataru completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      const vs = verbs(program);
      if (shell === 'bash') process.stdout.write(bash(vs));
      else if (shell === 'zsh') process.stdout.write(zsh(vs));
      else throw new AtaruError('BAD_REQUEST', `completion: "${shell}" is not a shell this knows: bash or zsh`);
    });
}
