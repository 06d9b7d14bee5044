/**
 * Architecture names as Go and apptainer spell them (amd64, arm64, ...), from the SIF's two-digit
 * codes, from an ELF header's machine field, and from what users type (`uname -m` spellings).
 * Unknown codes become null, never an index into a table.
 */

const SIF_CODES: Record<string, string> = {
  "01": "386",
  "02": "amd64",
  "03": "arm",
  "04": "arm64",
  "05": "ppc64",
  "06": "ppc64le",
  "07": "mips",
  "08": "mipsle",
  "09": "mips64",
  "10": "mips64le",
  "11": "s390x",
  "12": "riscv64",
  "13": "loong64",
};

/** The architecture a SIF code (`02`) names, or null for `00`, an unknown code or non-digits. */
export function sifArchitecture(code: string): string | null {
  return Object.hasOwn(SIF_CODES, code) ? SIF_CODES[code] : null;
}

/** What `uname -m`, Docker and others call the architectures SIF names differently. */
const ALIASES: Record<string, string> = {
  x86_64: "amd64",
  "x86-64": "amd64",
  x64: "amd64",
  aarch64: "arm64",
  i386: "386",
  i686: "386",
  x86: "386",
  armv7l: "arm",
  armhf: "arm",
  ppc64el: "ppc64le",
  riscv64gc: "riscv64",
  loongarch64: "loong64",
};

/** A user's architecture name in SIF's spelling: `x86_64` → `amd64`, `aarch64` → `arm64`. */
export function normalArchitecture(name: string): string {
  const lower = name.trim().toLowerCase();
  return Object.hasOwn(ALIASES, lower) ? ALIASES[lower] : lower;
}

/**
 * The architecture of an ELF executable from its first 20 bytes (machine and byte order), or null
 * when the bytes are not an ELF header or name a machine SIF has no code for.
 */
export function elfArchitecture(head: Uint8Array): string | null {
  if (head.length < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c) return null;
  if (head[3] !== 0x46) return null;
  const bits64 = head[4] === 2;
  const little = head[5] === 1;
  const machine = little ? head[18] | (head[19] << 8) : (head[18] << 8) | head[19];
  switch (machine) {
    case 3:
      return "386";
    case 62:
      return "amd64";
    case 40:
      return "arm";
    case 183:
      return "arm64";
    case 21:
      return little ? "ppc64le" : "ppc64";
    case 8:
      return bits64 ? (little ? "mips64le" : "mips64") : (little ? "mipsle" : "mips");
    case 22:
      return "s390x";
    case 243:
      return bits64 ? "riscv64" : null;
    case 258:
      return "loong64";
    default:
      return null;
  }
}
