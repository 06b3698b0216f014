package dev.javic.cli;

import dev.javic.experiment.ScenarioException;
import dev.javic.sim.CostModel;

/** Which exceptions are the user's input being wrong (one line, exit 2) rather than a javic bug. */
final class UserErrors {
    private UserErrors() {
    }

    /** The one-line message for a user error, or null when {@code e} is not one. */
    static String message(Throwable e) {
        if (e instanceof ScenarioException || e instanceof CostModel.CostFileException || e instanceof UsageException) {
            return e.getMessage();
        }
        return null;
    }

    /** A command-line value that parsed but makes no sense (unknown system, non-positive count). */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }
}
