package dev.javic.trace;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;

/** Writing a sink's formatted text out without creating Strings; IO errors become unchecked. */
final class TraceWriter {
    private final Writer out;
    private char[] chars = new char[256];

    TraceWriter(Writer out) {
        this.out = out;
    }

    /** Writes the builder's contents through a reused char buffer. */
    void write(StringBuilder b) {
        int length = b.length();
        if (chars.length < length) {
            chars = new char[Math.max(length, chars.length * 2)];
        }
        b.getChars(0, length, chars, 0);
        try {
            out.write(chars, 0, length);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void write(String text) {
        try {
            out.write(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
