/** `!clank threshold [5-200]`: chat messages between two spontaneous lines. @module */
import { settingCommand } from "./setting_command.ts";

export default settingCommand("threshold", "messages needed between spontaneous lines");
