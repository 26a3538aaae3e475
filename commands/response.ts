/** `!clank response [10-1800]`: seconds a user waits between two replies. @module */
import { settingCommand } from "./setting_command.ts";

export default settingCommand("response", "seconds between two replies to the same user", "s");
