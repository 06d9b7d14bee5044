/** `sregistry completions bash|zsh|fish`: shell completion scripts generated from the command tree. */
import type { Command } from "../command_line.ts";
import type { Context } from "../context.ts";
import { UsageError } from "../errors.ts";

interface CommandShape {
  name: string;
  description: string;
  options: string[];
  subcommands: string[];
}

/** Registers `completions`. */
export function registerCompletions(program: Command, ctx: Context): void {
  program.command("completions").description("print a shell completion script")
    .argument("<shell>", "bash, zsh or fish")
    .addHelpText(
      "\nExamples:\n  sregistry completions bash > ~/.local/share/bash-completion/completions/sregistry\n" +
        "  sregistry completions fish > ~/.config/fish/completions/sregistry.fish",
    )
    .action((shell) => ctx.io.out.write(completionScript(program, shell)));
}

/** The completion script for one shell, from the registered commands and options. */
export function completionScript(program: Command, shell: string): string {
  const commands: CommandShape[] = program.commands.map((command) => ({
    name: command.name,
    description: command.summary.split("\n")[0],
    options: command.options.map((option) => `--${option.long}`),
    subcommands: command.commands.map((sub) => sub.name),
  }));
  const globals = program.options.map((option) => `--${option.long}`);
  switch (shell) {
    case "bash":
      return bash(commands, globals);
    case "zsh":
      return `#compdef sregistry\nautoload -U bashcompinit && bashcompinit\n${
        bash(commands, globals)
      }`;
    case "fish":
      return fish(commands, globals);
    default:
      throw new UsageError(`unknown shell '${shell}'`, { hint: "choose bash, zsh or fish" });
  }
}

function bash(commands: CommandShape[], globals: string[]): string {
  const cases = commands.map((command) =>
    `    ${command.name}) words="${
      [...command.subcommands, ...command.options, "--help"].join(" ")
    }" ;;`
  ).join("\n");
  return `_sregistry() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" command="" i words
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) command="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$command" in
    "") words="${commands.map((c) => c.name).join(" ")} ${globals.join(" ")}" ;;
${cases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [[ -z "$words" || "$cur" == */* ]] && COMPREPLY+=($(compgen -f -- "$cur"))
}
complete -o default -F _sregistry sregistry
`;
}

function fish(commands: CommandShape[], globals: string[]): string {
  const quote = (text: string) => `'${text.replaceAll("'", "\\'")}'`;
  const lines = ["complete -c sregistry -f"];
  for (const option of globals) {
    lines.push(`complete -c sregistry -l ${option.replace(/^--/, "")}`);
  }
  const names = commands.map((c) => c.name).join(" ");
  for (const command of commands) {
    lines.push(
      `complete -c sregistry -n "not __fish_seen_subcommand_from ${names}" -a ${command.name} -d ${
        quote(command.description)
      }`,
    );
    for (const sub of command.subcommands) {
      lines.push(
        `complete -c sregistry -n "__fish_seen_subcommand_from ${command.name}" -a ${sub}`,
      );
    }
    for (const option of command.options.filter((o) => o.startsWith("--"))) {
      lines.push(
        `complete -c sregistry -n "__fish_seen_subcommand_from ${command.name}" -l ${
          option.slice(2)
        }`,
      );
    }
    lines.push(`complete -c sregistry -n "__fish_seen_subcommand_from ${command.name}" -F`);
  }
  return lines.join("\n") + "\n";
}
