// LitePullBench is the Java side of figure 2: RocketMQ's own Java client (the lite pull
// consumer of the broker's distribution) reading the bench topic. One JVM serves every
// round: each line on stdin names a fresh consumer group; the topic is read from its first
// offset until n records arrived, and one line reports the rate and the process CPU time,
// both from the first record to the last.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.util.List;

import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;

public class LitePullBench {
    public static void main(String[] args) throws Exception {
        String namesrv = args[0];
        String topic = args[1];
        long n = Long.parseLong(args[2]);
        int batch = Integer.parseInt(args[3]);
        com.sun.management.OperatingSystemMXBean os =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String group;
        while ((group = in.readLine()) != null) {
            group = group.trim();
            if (group.isEmpty()) {
                continue;
            }
            DefaultLitePullConsumer c = new DefaultLitePullConsumer(group);
            c.setNamesrvAddr(namesrv);
            c.setInstanceName(group);
            c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
            c.setPullBatchSize(batch);
            c.subscribe(topic, "*");
            c.start();
            long got = 0, t0 = 0, cpu0 = 0;
            while (got < n) {
                List<MessageExt> msgs = c.poll(1000);
                if (!msgs.isEmpty() && t0 == 0) {
                    t0 = System.nanoTime();
                    cpu0 = os.getProcessCpuTime();
                }
                got += msgs.size();
            }
            long t1 = System.nanoTime();
            long cpu1 = os.getProcessCpuTime();
            c.shutdown();
            System.out.println("records=" + got + " seconds=" + (t1 - t0) / 1e9 + " cpu_seconds=" + (cpu1 - cpu0) / 1e9);
            System.out.flush();
        }
    }
}
