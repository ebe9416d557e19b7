// The subcommands.  Each takes the arguments after "deitctl" (argv[0] is the subcommand's name), returns
// the exit code, and throws UsageError / LibraryError / Interrupted for main() to report.
#pragma once

namespace deitctl {

int cmd_run(int argc, char** argv);
int cmd_data(int argc, char** argv);
int cmd_teacher(int argc, char** argv);
int cmd_distill(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_predict(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_version(int argc, char** argv);
int cmd_launch(int argc, char** argv);

}  // namespace deitctl
