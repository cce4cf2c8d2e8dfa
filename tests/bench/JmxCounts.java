// Prints, for each MBean name given on the command line, the sum of the Count attribute of the
// beans it names with any further keys (Kafka tags RequestsPerSec by request version too):
// one "name<TAB>count" line each (none for a name with no bean yet). Run as a single-file source:
// java tests/bench/JmxCounts.java <port> <object name>... (JMX on 127.0.0.1; tests/bench/usage.py).
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

public class JmxCounts {
    public static void main(String[] args) throws Exception {
        String url = "service:jmx:rmi:///jndi/rmi://127.0.0.1:" + args[0] + "/jmxrmi";
        try (JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(url))) {
            MBeanServerConnection server = connector.getMBeanServerConnection();
            for (int i = 1; i < args.length; i++) {
                long sum = 0;
                boolean found = false;
                for (ObjectName name : server.queryNames(new ObjectName(args[i] + ",*"), null)) {
                    sum += ((Number) server.getAttribute(name, "Count")).longValue();
                    found = true;
                }
                if (found) {
                    System.out.println(args[i] + "\t" + sum);
                }
            }
        }
    }
}
