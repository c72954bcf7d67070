// callrec: the command line.
//
//   callrec render MANIFEST.json --out DIR [--max-chunk-bytes N] [--quiet] ...
//
// Exit status: 0 done, 1 the command failed (a one-line message names the cause), 2 usage.
#include <vector>

#include "command.h"

int main(int argc, char** argv) {
  CLI::App app{"callrec: renders the recording of a video call"};
  app.require_subcommand(1);
  const std::vector<callrec::cli::CommandRunner> commands{
      callrec::cli::add_render_command(app),
      callrec::cli::add_recover_command(app),
      callrec::cli::add_serve_command(app),
      callrec::cli::add_conversation_id_command(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const auto& run : commands)
    if (const int status = run(); status >= 0) return status;
  return 2;
}
