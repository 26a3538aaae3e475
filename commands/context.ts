/** `!clank context [50-500]`: chat lines the bot remembers and shows the model. @module */
import { settingCommand } from "./setting_command.ts";

export default settingCommand("context", "chat lines kept as context");
