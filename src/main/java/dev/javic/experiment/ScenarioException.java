package dev.javic.experiment;

/** A scenario file that cannot be run; the message names the file and the place, in one line. */
public final class ScenarioException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ScenarioException(String message) {
        super(message);
    }
}
