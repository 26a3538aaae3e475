/** `!clank spontaneous [60-3600]`: seconds between two spontaneous lines. @module */
import { settingCommand } from "./setting_command.ts";

export default settingCommand("spontaneous", "seconds between spontaneous lines", "s");
