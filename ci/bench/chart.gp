# SPDX-License-Identifier: GPL-2.0-or-later
# chart.gp: latest.png from latest.dat (and latest-growth.dat when there is
# one), run by ci/bench.sh in the results directory.
#   top:    rates as a fraction of direct (1.0 = the physical limit)
#   middle: proxy CPU seconds per 10k requests / connections (log scale)
#   bottom: slicer-proxy growth: CPU per unit against clients and rules,
#           relative to each series' first point
has_rates = system("grep -qv '^#' latest.dat 2>/dev/null && echo 1 || echo 0") + 0
has_growth = system("test -s latest-growth.dat && echo 1 || echo 0") + 0
panels = 2 * has_rates + has_growth
if (panels == 0) { print "nothing to draw"; exit }
set terminal pngcairo size 1200, (150 + 400 * panels) font "DejaVu Sans,11"
set output "latest.png"
set multiplot layout panels, 1 title "slicer-proxy vs direct, Squid, tinyproxy, mitmproxy (medians)"
# the same plot width in every panel, whatever the keys
set lmargin 10
set rmargin 30
set key outside right top vertical
set grid ytics
if (has_rates) {
	set style data histogram
	set style histogram clustered gap 1
	set style fill solid 0.85 border -1
	set boxwidth 0.9
	set xtics nomirror rotate by -20
	set title "Rates as a fraction of direct (higher is better)"
	set ylabel "x direct"
	set yrange [0:*]
	plot "latest.dat" using 2:xtic(1) title "keep-alive req/s" lc rgb "#1f77b4", \
	     "" using 3 title "new conn/s" lc rgb "#ff7f0e", \
	     "" using 4 title "64 MiB MB/s" lc rgb "#2ca02c", \
	     1 with lines dt 2 lc rgb "#555555" notitle
	set title "Proxy CPU per 10,000 (lower is better; log scale)"
	set ylabel "CPU seconds"
	set logscale y
	set yrange [*:*]
	plot "latest.dat" using 5:xtic(1) title "keep-alive requests" lc rgb "#1f77b4", \
	     "" using 6 title "new connections" lc rgb "#ff7f0e"
	unset logscale y
}
if (has_growth) {
	set style data linespoints
	set logscale x
	set xtics norotate
	set xrange [0.7:20000]
	set xlabel "clients, or rules of the one client"
	set ylabel "CPU per unit, x first point"
	set yrange [0:*]
	set title "slicer-proxy growth: proxy CPU per connection / request against clients and rules"
	plot "< grep '^clients' latest-growth.dat" using 2:5 title "clients: tunnel new conn" lw 2 pt 7 lc rgb "#9467bd", \
	     "< grep '^clients' latest-growth.dat" using 2:8 title "clients: intercepted KA req" lw 2 pt 5 lc rgb "#8c564b", \
	     "< grep '^rules' latest-growth.dat" using 2:5 title "rules: tunnel new conn" lw 2 dt 2 pt 7 lc rgb "#17becf", \
	     "< grep '^rules' latest-growth.dat" using 2:8 title "rules: intercepted KA req" lw 2 dt 2 pt 5 lc rgb "#bcbd22", \
	     1 with lines dt 3 lc rgb "#555555" notitle
}
unset multiplot
