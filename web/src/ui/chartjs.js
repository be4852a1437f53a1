// Chart.js with only the parts the page uses (keeps the lazy chunk small).
import { Chart, LineController, LineElement, PointElement, LinearScale, Legend, Tooltip } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
Chart.defaults.color = '#444';
Chart.defaults.borderColor = '#e3e6ea';

export { Chart };
