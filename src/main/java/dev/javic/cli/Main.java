package dev.javic.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** javic's command line: {@code javic run | stat | explain | ...}. */
@Command(name = "javic", mixinStandardHelpOptions = true, version = "javic 0.1.0",
        description = "AMD AVIC in a KVM-style hypervisor on a simulated SVM machine.",
        subcommands = {RunCommand.class, BenchCommand.class, ReproduceCommand.class, CalibrateCommand.class, StatCommand.class, ExplainCommand.class, BootCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line; user errors print one line to stderr and return 2. */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            String msg = UserErrors.message(ex);
            if (msg == null) {
                throw ex;
            }
            commandLine.getErr().println("javic: " + msg);
            return 2;
        });
        cl.setParameterExceptionHandler((ex, args1) -> {
            ex.getCommandLine().getErr().println("javic: " + ex.getMessage() + " (see --help)");
            return 2;
        });
        return cl.execute(args);
    }
}
