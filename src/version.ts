/** The version of sregistry, printed by `version` and sent in the User-Agent. */
export const VERSION = "0.3.0";
