package dev.javic.experiment;

import dev.javic.trace.IrqLatencySink;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;

import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The interrupt latency distributions of several systems as one PNG: for each system and kind of interrupt
 * (IPI, device/timer), the cumulative distribution, x = latency in simulated microseconds (logarithmic when
 * the values span more than a factor of 20), y = percent of interrupts taken within that latency.
 */
public final class LatencyPlot {
    private static final int WIDTH = 1000;
    private static final int HEIGHT = 600;
    private static final double LOG_AXIS_SPREAD = 20;

    private LatencyPlot() {
    }

    /** Writes the plot as PNG to {@code out}; returns the number of series drawn. */
    public static int write(OutputStream out, String scenario, List<SystemStats> systems, int vcpu) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title("Interrupt latency, send -> guest handler entry: " + scenario
                        + (vcpu < 0 ? "" : " (target vCPU " + vcpu + ")"))
                .xAxisTitle("latency (simulated us)").yAxisTitle("interrupts taken within (%)").build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Step);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        chart.getStyler().setMarkerSize(4);
        chart.getStyler().setYAxisMin(0.0).setYAxisMax(100.0);
        double min = Double.MAX_VALUE;
        double max = 0;
        int series = 0;
        for (SystemStats s : systems) {
            for (int kind = 0; kind < IrqLatencySink.ALL_KINDS; kind++) {
                Histogram h = s.latency().histogram(vcpu, kind);
                if (h.getTotalCount() == 0) {
                    continue;
                }
                List<Double> xs = new ArrayList<>();
                List<Double> ys = new ArrayList<>();
                long seen = 0;
                for (HistogramIterationValue v : h.recordedValues()) {
                    seen += v.getCountAtValueIteratedTo();
                    double us = h.highestEquivalentValue(v.getValueIteratedTo()) / 1000.0;
                    if (xs.isEmpty()) {
                        xs.add(h.lowestEquivalentValue(v.getValueIteratedTo()) / 1000.0);
                        ys.add(0.0);
                    }
                    xs.add(us);
                    ys.add(100.0 * seen / h.getTotalCount());
                }
                min = Math.min(min, xs.get(0));
                max = Math.max(max, xs.get(xs.size() - 1));
                chart.addSeries(s.system().label() + " " + IrqLatencySink.KINDS.get(kind) + " (n=" + h.getTotalCount() + ")",
                        xs, ys);
                series++;
            }
        }
        if (series == 0) {
            chart.addSeries("no interrupts were taken", List.of(0.0, 1.0), List.of(0.0, 0.0));
        } else if (min > 0 && max / min > LOG_AXIS_SPREAD) {
            chart.getStyler().setXAxisLogarithmic(true);
        }
        BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        return series;
    }
}
