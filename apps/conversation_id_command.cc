// callrec conversation-id URL
//
// Prints the conversationId of a conversation URL (its Base64Url, RFC 4648 §5, no
// padding), as the reference routes /conversations/{conversationId}/... take it.
// With --decode, prints the URL of a conversationId. Exit status: 0, or 1 when a
// conversationId does not decode.
#include <iostream>
#include <memory>

#include "callrec/conversation_id.h"
#include "command.h"

namespace callrec::cli {

CommandRunner add_conversation_id_command(CLI::App& app) {
  struct Options {
    std::string value;
    bool decode = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("conversation-id", "Print the conversationId (Base64Url) of a conversation URL");
  cmd->add_option("url", o->value, "The conversation URL (or, with --decode, the conversationId)")->required();
  cmd->add_flag("--decode", o->decode, "Print the URL a conversationId stands for");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    if (!o->decode) {
      std::cout << conversation_id_from_url(o->value) << "\n";
      return 0;
    }
    const auto url = conversation_url_from_id(o->value);
    if (!url) {
      std::cerr << "callrec: error: \"" << o->value << "\" is not a Base64Url conversationId\n";
      return 1;
    }
    std::cout << *url << "\n";
    return 0;
  };
}

}  // namespace callrec::cli
