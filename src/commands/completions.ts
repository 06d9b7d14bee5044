/**
 * `sregistry completions bash|zsh|fish`: shell completion scripts generated from the command tree.
 * Commands, options and fixed values are written into the script; image names, collections,
 * clients and backends are asked of `sregistry __complete` (commands/complete.ts) as the user
 * types, with its stderr discarded, so a completion never prints into the terminal.
 */
import type { AnyCommand, Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";
import { SORT_FIELDS } from "../core/container_listing.ts";
import { clientNames } from "../remotes/clients.ts";

/** What an argument or an option's value completes to, from `sregistry __complete`. */
type Kind = "images" | "collections" | "clients" | "backends";

/** What a command's arguments complete to, and whether they are also files. */
interface ArgumentCompletion {
  kind?: Kind;
  files?: boolean;
}

// Arguments by command (`backend <action>` for backend's actions); others complete files.
const ARGUMENTS: Record<string, ArgumentCompletion> = {
  get: { kind: "images" },
  inspect: { kind: "images", files: true },
  rm: { kind: "images" },
  rmi: { kind: "images" },
  tag: { kind: "images" },
  rename: { kind: "images" },
  mv: { kind: "images", files: true },
  images: { kind: "images" },
  verify: { kind: "images" },
  du: { kind: "images" },
  shell: { kind: "clients" },
  add: { files: true },
  push: { files: true },
  import: { files: true },
  "backend activate": { kind: "clients" },
  "backend add": { kind: "clients" },
  "backend ls": { kind: "backends" },
  "backend remove": { kind: "backends" },
  "backend delete": { kind: "backends" },
};

// Options whose value completes to a kind, or to fixed words.
const OPTION_VALUES: Record<string, Kind | readonly string[]> = {
  client: "clients",
  collection: "collections",
  sort: SORT_FIELDS,
};

interface CommandShape {
  /** The command's words: `get`, or `backend activate`. */
  path: string;
  description: string;
  options: string[];
  subcommands: string[];
}

/** Registers `completions`. */
export function registerCompletions(program: Command, ctx: Context): void {
  program.command("completions").description("print a shell completion script")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText(
      "\nThe scripts complete commands and options, and image names, collections, clients and\n" +
        "backends from the database and the secrets file, by running sregistry as you type\n" +
        "(it opens no database that does not exist, and shows no error).\n" +
        "\nExamples:\n  sregistry completions bash > ~/.local/share/bash-completion/completions/sregistry\n" +
        "  sregistry completions zsh > ~/.zfunc/_sregistry   # with fpath+=(~/.zfunc) before compinit\n" +
        "  sregistry completions fish > ~/.config/fish/completions/sregistry.fish",
    )
    .action((shell) => ctx.io.out.write(completionScript(program, shell)));
}

/** The completion script for one shell, from the registered commands and options. */
export function completionScript(program: Command, shell: string): string {
  const commands: CommandShape[] = [];
  const visit = (command: AnyCommand, prefix: string) => {
    for (const child of command.commands.filter((c) => !c.hidden)) {
      const path = `${prefix}${child.name}`;
      commands.push({
        path,
        description: child.summary.split("\n")[0],
        options: child.options.map((option) => `--${option.long}`),
        subcommands: child.commands.filter((c) => !c.hidden).map((sub) => sub.name),
      });
      visit(child, `${path} `);
    }
  };
  visit(program, "");
  const globals = program.options.map((option) => `--${option.long}`);
  switch (shell) {
    case "bash":
      return bash(commands, globals);
    case "zsh":
      return zsh(commands, globals);
    case "fish":
      return fish(commands, globals);
    default:
      throw new UsageError(`unknown shell '${shell}'`, { hint: "choose bash, zsh or fish" });
  }
}

// The function that asks sregistry for words (`$1` kind, `$2` what was typed), with the client
// names sregistry knows added to the clients the database holds.
function bashWords(): string {
  return `_sregistry_words() {
  local program="\${COMP_WORDS[0]}"
  [[ "$program" == "~/"* ]] && program="$HOME/\${program#"~/"}"
  {
    "$program" __complete "$1" "$2" 2>/dev/null </dev/null
    if [[ "$1" == clients ]]; then
      local client
      for client in ${clientNames().join(" ")}; do [[ "$client" == "$2"* ]] && echo "$client"; done
    fi
  } | sort -u
}`;
}

function bash(commands: CommandShape[], globals: string[]): string {
  const top = commands.filter((c) => !c.path.includes(" "));
  const cases = top.map((command) => {
    const words = [...command.subcommands, ...command.options, "--help"].join(" ");
    const subs = commands.filter((c) => c.path.startsWith(`${command.path} `));
    if (subs.length === 0) {
      const argument = ARGUMENTS[command.path] ?? {};
      const kind = argument.kind ? ` kind=${argument.kind};` : "";
      const files = argument.files ? " files=1;" : "";
      return `    ${command.path}) words="${words}";${kind}${files} ;;`;
    }
    const subCases = subs.map((sub) => {
      const argument = ARGUMENTS[sub.path] ?? {};
      const kind = argument.kind ? ` kind=${argument.kind};` : "";
      return `        ${sub.path.split(" ")[1]}) words="${
        [...sub.options, "--help"].join(" ")
      }";${kind} ;;`;
    }).join("\n");
    return `    ${command.path})\n      case "$sub" in\n        "") words="${words}" ;;\n${subCases}\n      esac ;;`;
  }).join("\n");
  const values = Object.entries(OPTION_VALUES).map(([option, value]) =>
    typeof value === "string"
      ? `    --${option}) kind=${value} ;;`
      : `    --${option}) COMPREPLY=($(compgen -W "${value.join(" ")}" -- "$cur")); return ;;`
  ).join("\n");
  return `${bashWords()}

_sregistry() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" command="" sub="" words="" kind="" files="" i
  ((COMP_CWORD > 0)) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # The whole word before the cursor: bash splits a name at the ':' before its tag.
  local line="\${COMP_LINE:0:\$COMP_POINT}"
  local word="\${line##*[[:space:]]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --database|--storage) ((i++)) ;;
      -*) ;;
      *) if [[ -z "$command" ]]; then command="\${COMP_WORDS[i]}"
         elif [[ -z "$sub" ]]; then sub="\${COMP_WORDS[i]}"; fi ;;
    esac
  done
  case "$prev" in
    --database|--storage) COMPREPLY=($(compgen -d -- "$cur")); return ;;
${values}
  esac
  if [[ -z "$kind" ]]; then
    case "$command" in
      "") words="${top.map((c) => c.path).join(" ")} ${globals.join(" ")}" ;;
${cases}
    esac
  fi
  # Options when one is being typed, or when nothing else completes here.
  COMPREPLY=()
  [[ "$cur" == -* || -z "$kind" ]] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
  if [[ -n "$kind" && "$cur" != -* ]]; then
    local IFS=$'\\n' found
    found=($(_sregistry_words "$kind" "$word"))
    # bash replaces only what follows the last ':' of the word: give it that part.
    if [[ "$word" == *:* && "\${COMP_WORDBREAKS-}" == *:* ]]; then
      found=("\${found[@]#"\${word%"\${word##*:}"}"}")
    fi
    COMPREPLY+=("\${found[@]}")
  fi
  [[ -n "$files" && "$cur" != -* ]] && COMPREPLY+=($(compgen -f -- "$cur"))
  return 0
}
complete -o default -F _sregistry sregistry
`;
}

// zsh runs the bash script through bashcompinit.
function zsh(commands: CommandShape[], globals: string[]): string {
  return `#compdef sregistry\nautoload -U +X bashcompinit && bashcompinit\n${
    bash(commands, globals)
  }`;
}

function fish(commands: CommandShape[], globals: string[]): string {
  const quote = (text: string) => `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  const lines = [
    "complete -c sregistry -f",
    "# Words from sregistry itself (image names, collections, clients, backends); never its errors.",
    "function __sregistry_words",
    "    set -l program (commandline -opc)[1]",
    "    command $program __complete $argv[1] (commandline -ct) 2>/dev/null </dev/null",
    `    test "$argv[1]" = clients; and printf '%s\\n' ${clientNames().join(" ")}`,
    "end",
  ];
  for (const option of globals) {
    lines.push(`complete -c sregistry -l ${option.replace(/^--/, "")}`);
  }
  const top = commands.filter((c) => !c.path.includes(" "));
  const names = top.map((c) => c.path).join(" ");
  for (const command of top) {
    lines.push(
      `complete -c sregistry -n "not __fish_seen_subcommand_from ${names}" -a ${command.path} -d ${
        quote(command.description)
      }`,
    );
  }
  for (const command of commands) {
    const words = command.path.split(" ");
    const when = words.length === 1
      ? `__fish_seen_subcommand_from ${words[0]}`
      : `__fish_seen_subcommand_from ${words[0]}; and __fish_seen_subcommand_from ${words[1]}`;
    for (const sub of command.subcommands) {
      const subs = command.subcommands.join(" ");
      lines.push(
        `complete -c sregistry -n "${when}; and not __fish_seen_subcommand_from ${subs}" -a ${sub}`,
      );
    }
    for (const option of command.options) {
      const long = option.slice(2);
      const value = OPTION_VALUES[long];
      const values = value === undefined
        ? ""
        : typeof value === "string"
        ? ` -x -a "(__sregistry_words ${value})"`
        : ` -x -a ${quote(value.join(" "))}`;
      lines.push(`complete -c sregistry -n "${when}" -l ${long}${values}`);
    }
    const argument = ARGUMENTS[command.path];
    if (argument?.kind) {
      lines.push(`complete -c sregistry -n "${when}" -a "(__sregistry_words ${argument.kind})"`);
    }
    if (argument?.files || (argument === undefined && command.subcommands.length === 0)) {
      lines.push(`complete -c sregistry -n "${when}" -F`);
    }
  }
  return lines.join("\n") + "\n";
}
